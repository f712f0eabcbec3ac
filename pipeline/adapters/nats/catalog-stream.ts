import type { JetStreamClient, JetStreamManager } from 'nats';
import { DeliverPolicy, NatsError, RetentionPolicy, StorageType } from 'nats';
import type { GlobalCap, Message } from '../../core/message-schema.ts';
import { GlobalCapListSchema, MessageSchema } from '../../core/message-schema.ts';
import type { Namespace } from '../../namespace.ts';
import type { ApplyOutcome, Catalog, MessageVersions } from '../../ports/message-catalog.ts';
import type { CatalogHistory } from '../../ports/recorded-log.ts';
import { versionKey } from '../../core/message-schema.ts';
import { decodeValue, encodeValue } from './packs.ts';
import { ensureStream } from './stream-info.ts';

/** JetStream's API error code for "no message found". */
const NO_MESSAGE_FOUND = 10037;

/**
 * The message catalog: every version of every message, and of the global caps, kept in a
 * JetStream stream (`<NS>_CATALOG`; subjects `<ns>.catalog.message.<id>` and `<ns>.catalog.caps`,
 * no age or count limit: no version is ever dropped). The latest version of a subject is the one
 * in force.
 */
export async function ensureCatalogStream(jsm: JetStreamManager, ns: Namespace): Promise<void> {
  await ensureStream(jsm, ns, {
    name: catalogStream(ns),
    subjects: [`${ns.name}.catalog.>`],
    storage: StorageType.File,
    retention: RetentionPolicy.Limits,
  });
}

export const catalogStream = (ns: Namespace) => ns.catalogStream;
const messageSubject = (ns: Namespace, id: string) => `${ns.name}.catalog.message.${id}`;
const capsSubject = (ns: Namespace) => `${ns.name}.catalog.caps`;

/** The latest version of every message, and the caps in force ([] when never set). */
export async function readCatalog(jsm: JetStreamManager, ns: Namespace): Promise<Catalog> {
  const info = await jsm.streams.info(catalogStream(ns), { subjects_filter: `${ns.name}.catalog.message.>` });
  const subjects = Object.keys(info.state.subjects ?? {}).sort();
  const messages: Message[] = [];
  const storedAt: number[] = [];
  for (const subject of subjects) {
    const latest = await latestOn(jsm, ns, subject);
    if (latest === undefined) continue;
    messages.push(MessageSchema.parse(latest.value));
    storedAt.push(latest.stored_at);
  }
  return { messages, stored_at: storedAt, ...(await readCaps(jsm, ns)) };
}

/** The global caps in force and their version (0: never set), without reading the messages. */
export async function readCaps(
  jsm: JetStreamManager,
  ns: Namespace,
): Promise<Pick<Catalog, 'caps' | 'capsVersion'>> {
  const caps = await latestOn(jsm, ns, capsSubject(ns));
  return {
    caps: caps === undefined ? [] : GlobalCapListSchema.parse(caps.value),
    capsVersion: caps?.seq ?? 0,
  };
}

/** Reads the whole catalog stream, oldest first (it has no limits: no version is ever dropped). */
export async function catalogHistory(js: JetStreamClient, ns: Namespace): Promise<CatalogHistory> {
  const consumer = await js.consumers.get(catalogStream(ns), {
    deliver_policy: DeliverPolicy.StartSequence,
    opt_start_seq: 1,
  });
  const messages = new Map<string, Message>();
  const caps: { seq: number; stored_at: number; caps: GlobalCap[] }[] = [];
  const capsSubjectName = capsSubject(ns);
  for (;;) {
    const message = await consumer.next({ expires: 1_000 });
    if (message === null) break;
    const value: unknown = decodeValue(message.data);
    if (message.subject === capsSubjectName)
      caps.push({
        seq: message.seq,
        stored_at: Math.floor(message.info.timestampNanos / 1e6),
        caps: GlobalCapListSchema.parse(value),
      });
    else {
      const version = MessageSchema.parse(value);
      messages.set(versionKey(version.id, version.version), version);
    }
    if (message.info.pending === 0) break;
  }
  return { messages, caps };
}

/** Every stored version of one message, oldest first. */
export async function messageVersions(js: JetStreamClient, ns: Namespace, id: string): Promise<Message[]> {
  return (await storedVersions(js, ns, id)).versions;
}

/** Every stored version of one message, oldest first, with when each was stored. */
export async function storedVersions(
  js: JetStreamClient,
  ns: Namespace,
  id: string,
): Promise<MessageVersions> {
  const consumer = await js.consumers.get(catalogStream(ns), {
    filterSubjects: messageSubject(ns, id),
    deliver_policy: DeliverPolicy.StartSequence,
    opt_start_seq: 1,
  });
  const versions: Message[] = [];
  const storedAt: number[] = [];
  for (;;) {
    const message = await consumer.next({ expires: 1_000 });
    if (message === null) break;
    versions.push(MessageSchema.parse(decodeValue(message.data)));
    storedAt.push(Math.floor(message.info.timestampNanos / 1e6));
    if (message.info.pending === 0) break;
  }
  return { versions, stored_at: storedAt };
}

/**
 * Stores the messages of a file, kubectl-apply style: a message whose definition differs from its
 * latest version gets a new version (the next number); an identical one is left as it is. A
 * `live_since` in the file is kept; a live message without one keeps the `live_since` of its live
 * predecessor, or goes live `now`. Concurrent writers cannot both win: each version is stored only
 * if the subject's last sequence is still the one read (optimistic concurrency).
 */
export async function applyMessages(
  js: JetStreamClient,
  jsm: JetStreamManager,
  ns: Namespace,
  messages: readonly Message[],
  now: number,
): Promise<ApplyOutcome[]> {
  const outcomes: ApplyOutcome[] = [];
  for (const message of messages) {
    const subject = messageSubject(ns, message.id);
    const latest = await latestOn(jsm, ns, subject);
    const previous = latest === undefined ? undefined : MessageSchema.parse(latest.value);
    const liveSince =
      message.live_since ??
      (message.state === 'live'
        ? ((previous?.state === 'live' ? previous.live_since : undefined) ?? now)
        : undefined);
    // Through the schema again: the same definition then has the same keys in the same order.
    const next = MessageSchema.parse({
      ...message,
      version: (previous?.version ?? 0) + 1,
      live_since: liveSince ?? null,
    });
    if (previous !== undefined && sameDefinition(previous, next)) {
      outcomes.push({ id: message.id, change: 'unchanged', version: previous.version });
      continue;
    }
    await js.publish(subject, encodeValue(next), {
      expect: { lastSubjectSequence: latest?.seq ?? 0 },
    });
    outcomes.push({
      id: message.id,
      change: previous === undefined ? 'created' : 'updated',
      version: next.version,
    });
  }
  return outcomes;
}

/** Stores the global caps as a new version when they differ from those in force. */
export async function applyCaps(
  js: JetStreamClient,
  jsm: JetStreamManager,
  ns: Namespace,
  caps: readonly GlobalCap[],
): Promise<boolean> {
  const latest = await latestOn(jsm, ns, capsSubject(ns));
  if (latest !== undefined && JSON.stringify(latest.value) === JSON.stringify(caps)) return false;
  await js.publish(capsSubject(ns), encodeValue(caps), {
    expect: { lastSubjectSequence: latest?.seq ?? 0 },
  });
  return true;
}

const sameDefinition = (a: Message, b: Message) =>
  JSON.stringify({ ...a, version: 0 }) === JSON.stringify({ ...b, version: 0 });

async function latestOn(
  jsm: JetStreamManager,
  ns: Namespace,
  subject: string,
): Promise<{ seq: number; value: unknown; stored_at: number } | undefined> {
  try {
    const message = await jsm.streams.getMessage(catalogStream(ns), { last_by_subj: subject });
    return { seq: message.seq, value: decodeValue(message.data), stored_at: message.time.getTime() };
  } catch (error) {
    if (error instanceof NatsError && error.api_error?.err_code === NO_MESSAGE_FOUND) return undefined;
    throw error;
  }
}

/** The latest version of one message, or undefined when there is none. */
export async function latestMessage(
  jsm: JetStreamManager,
  ns: Namespace,
  id: string,
): Promise<Message | undefined> {
  const latest = await latestOn(jsm, ns, messageSubject(ns, id));
  return latest === undefined ? undefined : MessageSchema.parse(latest.value);
}

/** Removes every version of a message: only for drafts, which no decision can have used. */
export async function purgeMessage(jsm: JetStreamManager, ns: Namespace, id: string): Promise<void> {
  await jsm.streams.purge(catalogStream(ns), { filter: messageSubject(ns, id) });
}
