import { readFileSync } from 'node:fs';
import type { RedisClient } from './connect-redis.ts';
import type { Namespace } from '../../namespace.ts';
import type { Inbox, InboxAction, InboxEntry, InboxMessage } from '../../ports/inbox.ts';
import { INBOX_SIZE } from '../../ports/inbox.ts';

/** Registered under versioned names, as the state store's scripts are: bump with any change. */
const ADD = 'nudgeAddInboxEntry1';
const LIST = 'nudgeListInbox1';
const MARK = 'nudgeMarkInboxEntry1';
const script = (file: string) => readFileSync(new URL(`scripts/${file}`, import.meta.url), 'utf8');

type WithScripts = RedisClient & {
  [ADD]: (
    entries: string,
    order: string,
    counter: string,
    decisionId: string,
    message: string,
    size: number,
    ttlMs: number,
    counterTtlMs: number,
  ) => Promise<[string, number]>;
  [LIST]: (entries: string, order: string, afterSeq: number, limit: number) => Promise<(string | null)[]>;
  [MARK]: (entries: string, decisionId: string, action: InboxAction) => Promise<[number, string] | null>;
};

/** An entry as the scripts keep it: the message's JSON stays as the caller wrote it. */
type Stored = {
  readonly seq: number;
  readonly seen: boolean;
  readonly dismissed: boolean;
  readonly message: string;
};

const DAY_MS = 86_400_000;

export type RedisInboxOptions = {
  /** Entries kept per user, the newest. */
  readonly size?: number;
  /** How long an inbox lives after its last add. */
  readonly ttlMs?: number;
};

/**
 * Each user's inbox in Redis, three keys under one hash tag of the user (`Namespace.inboxKey`):
 * `items` (hash: decision id → entry), `order` (sorted set: decision id by seq) and `seq` (the
 * counter). Every operation is one script, so an add, its trim and a mark never interleave.
 *
 * The inbox lives 30 days after its last add. The counter lives a year: a page that kept an old
 * `Last-Event-ID` while the inbox expired still gets the seqs that follow, not reused ones.
 * A decision id is known while its entry is in the inbox: a delivery read again after its entry
 * fell off the end (a hundred newer sends in between) would come back as a new entry.
 */
export class RedisInbox implements Inbox {
  private readonly redis: WithScripts;
  private readonly size: number;
  private readonly ttlMs: number;

  constructor(
    redis: RedisClient,
    private readonly ns: Namespace,
    options: RedisInboxOptions = {},
  ) {
    if (!(ADD in redis)) redis.defineCommand(ADD, { numberOfKeys: 3, lua: script('addInboxEntry-3.lua') });
    if (!(LIST in redis)) redis.defineCommand(LIST, { numberOfKeys: 2, lua: script('listInbox-2.lua') });
    if (!(MARK in redis)) redis.defineCommand(MARK, { numberOfKeys: 1, lua: script('markInboxEntry-1.lua') });
    this.redis = redis as WithScripts;
    this.size = options.size ?? INBOX_SIZE;
    this.ttlMs = options.ttlMs ?? 30 * DAY_MS;
  }

  async add(userId: string, message: InboxMessage): Promise<{ entry: InboxEntry; added: boolean }> {
    // Only the message's own fields, in one order: a caller's object may carry more.
    const { decision_id, message_id, channel, subject, body, at } = message;
    const json = JSON.stringify({ decision_id, message_id, channel, subject, body, at });
    const [stored, added] = await this.redis[ADD](
      this.key(userId, 'items'),
      this.key(userId, 'order'),
      this.key(userId, 'seq'),
      decision_id,
      json,
      this.size,
      this.ttlMs,
      Math.max(this.ttlMs, 365 * DAY_MS),
    );
    return { entry: entryOf(stored), added: added === 1 };
  }

  async list(userId: string, options: { afterSeq?: number; limit?: number } = {}): Promise<InboxEntry[]> {
    const stored = await this.redis[LIST](
      this.key(userId, 'items'),
      this.key(userId, 'order'),
      options.afterSeq ?? 0,
      options.limit ?? this.size,
    );
    return stored.filter((json): json is string => json !== null).map(entryOf);
  }

  async mark(
    userId: string,
    decisionId: string,
    action: InboxAction,
  ): Promise<{ first: boolean; entry: InboxEntry } | undefined> {
    const result = await this.redis[MARK](this.key(userId, 'items'), decisionId, action);
    return result === null ? undefined : { first: result[0] === 1, entry: entryOf(result[1]) };
  }

  private key(userId: string, part: 'items' | 'order' | 'seq'): string {
    return this.ns.inboxKey(userId, part);
  }
}

const entryOf = (json: string): InboxEntry => {
  const { seq, seen, dismissed, message } = JSON.parse(json) as Stored;
  return { ...(JSON.parse(message) as InboxMessage), seq, seen, dismissed };
};
