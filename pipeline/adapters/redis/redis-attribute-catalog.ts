import { readFileSync } from 'node:fs';
import type { RedisClient } from './connect-redis.ts';
import type { LogEntry } from '../../core/log-entry.ts';
import type { Namespace } from '../../namespace.ts';
import type { AttributeKeys, ObservedAttribute } from '../../ports/attribute-keys.ts';
import { ATTRIBUTE_KEYS_KEPT } from '../../ports/attribute-keys.ts';

/** Registered under a versioned name, as the state store's scripts are: bump with any change. */
const RECORD = 'nudgeRecordAttributes1';
const lua = readFileSync(new URL('scripts/recordAttributes.lua', import.meta.url), 'utf8');
type WithScript = RedisClient & {
  [RECORD]: (keyCount: number, ...keysThenArgs: unknown[]) => Promise<number>;
};

/** Values one script call is given at most: a call holds Redis while it runs. */
const ARGS_PER_CALL = 10_000;

/** What a batch saw of one attribute key. */
type Seen = { latest: number; readonly types: Set<string>; readonly users: Set<string> };

/**
 * The user attribute keys `identify` entries set (issue #19), under one Redis Cluster hash tag
 * (`<ns>:{user_attrs}:…`) so one script touches them all: `seen` (sorted set: key → latest
 * `received_at`), `types` (hash of JSON `[key, type]`, as the event catalog keeps types) and
 * `users:<key>` (a HyperLogLog of the user ids that set it: about 1% off, at most 12 kB a key, and
 * no id can be read back from it). No value is stored: attributes are personal data (emails, phone
 * numbers), and the composer needs only the key and its types. A `null` removes an attribute, so
 * it is not a sighting. The bound (`ATTRIBUTE_KEYS_KEPT`) is checked in the script, so processes
 * recording at once never keep more; a new key past it is not recorded at all.
 */
export class RedisAttributeCatalog implements AttributeKeys {
  private readonly redis: WithScript;

  constructor(
    redis: RedisClient,
    private readonly ns: Namespace,
    private readonly bound: number = ATTRIBUTE_KEYS_KEPT,
  ) {
    if (!(RECORD in redis)) redis.defineCommand(RECORD, { lua });
    this.redis = redis as WithScript;
  }

  async record(entries: readonly LogEntry[]): Promise<void> {
    const seen = new Map<string, Seen>();
    for (const entry of entries) {
      if (entry.type !== 'identify') continue;
      for (const [key, value] of Object.entries(entry.attributes)) {
        if (value === null) continue;
        const attribute = seen.get(key) ?? { latest: 0, types: new Set(), users: new Set() };
        seen.set(key, attribute);
        attribute.latest = Math.max(attribute.latest, entry.received_at);
        attribute.types.add(JSON.stringify([key, typeof value]));
        attribute.users.add(entry.user_id);
      }
    }
    for (const call of this.calls(seen)) {
      await this.redis[RECORD](call.keys.length, call.keys, this.bound, call.args);
    }
  }

  /**
   * The script calls a batch needs, each of about `ARGS_PER_CALL` values at most: an attribute set
   * on more users than that is split over calls, each part recorded as the whole would be.
   */
  private *calls(seen: ReadonlyMap<string, Seen>): Generator<{ keys: string[]; args: string[] }> {
    let call = { keys: [this.key('seen'), this.key('types')], args: [] as string[] };
    for (const [key, { latest, types, users }] of seen) {
      const ids = [...users];
      for (let from = 0; from < ids.length; from += ARGS_PER_CALL) {
        const part = ids.slice(from, from + ARGS_PER_CALL);
        if (call.args.length > 0 && call.args.length + part.length > ARGS_PER_CALL) {
          yield call;
          call = { keys: [this.key('seen'), this.key('types')], args: [] };
        }
        call.keys.push(this.usersOf(key));
        call.args.push(key, String(latest), String(types.size), ...types, String(part.length), ...part);
      }
    }
    if (call.args.length > 0) yield call;
  }

  /** Every key kept, most users first (then by key), the first `limit`. */
  async attributes(limit: number): Promise<ObservedAttribute[]> {
    const [scored, typed] = await Promise.all([
      this.redis.zrange(this.key('seen'), 0, -1, 'WITHSCORES'),
      this.redis.hkeys(this.key('types')),
    ]);
    const keys = scored.filter((_, i) => i % 2 === 0);
    const counts = keys.length === 0 ? [] : await this.count(keys);
    const byKey = new Map<string, string[]>();
    for (const pair of typed) {
      const [key, type] = JSON.parse(pair) as [string, string];
      byKey.set(key, [...(byKey.get(key) ?? []), type].sort());
    }
    return keys
      .map((key, i) => ({
        key,
        types: byKey.get(key) ?? [],
        users: counts[i] ?? 0,
        last_seen: Number(scored[2 * i + 1]),
      }))
      .sort((a, b) => b.users - a.users || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
      .slice(0, limit);
  }

  /** PFCOUNT of each key's users, in one round trip. */
  private async count(keys: readonly string[]): Promise<number[]> {
    const pipeline = this.redis.pipeline();
    for (const key of keys) pipeline.pfcount(this.usersOf(key));
    const results = (await pipeline.exec()) ?? [];
    return results.map(([error, count]) => {
      if (error) throw error;
      return Number(count);
    });
  }

  private key(part: 'seen' | 'types'): string {
    return `${this.ns.name}:{user_attrs}:${part}`;
  }

  private usersOf(key: string): string {
    return `${this.ns.name}:{user_attrs}:users:${key}`;
  }
}
