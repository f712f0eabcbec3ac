import { setTimeout as sleep } from 'node:timers/promises';
import type { ClickHouseClient } from '@clickhouse/client';
import type { RedisClient } from '../../pipeline/adapters/redis/connect-redis.ts';
import type { JetStreamClient, JetStreamManager } from 'nats';
import { NatsError } from 'nats';
import { ClickHouseRecordedLog } from '../../pipeline/adapters/clickhouse/recorded-log.ts';
import { catalogHistory } from '../../pipeline/adapters/nats/catalog-stream.ts';
import { decodeValue } from '../../pipeline/adapters/nats/packs.ts';
import { RedisStateStore } from '../../pipeline/adapters/redis/redis-state-store.ts';
import { compileCaps } from '../../pipeline/core/caps.ts';
import type { LogEntry } from '../../pipeline/core/log-entry.ts';
import type { Channel, GlobalCap, Message } from '../../pipeline/core/message-schema.ts';
import { partitionOf } from '../../pipeline/core/partition.ts';
import { buildRuleIndex } from '../../pipeline/core/rule-index.ts';
import type { Namespace } from '../../pipeline/namespace.ts';
import { parseEntry } from '../../pipeline/parse-entry.ts';
import { Replayer } from '../../pipeline/replay/replayer.ts';
import { replayWindow } from '../../pipeline/replay/window-replay.ts';

/** JetStream's API error code for "stream not found". */
const STREAM_NOT_FOUND = 10059;

export type RunServices = {
  readonly ns: Namespace;
  readonly partitions: number;
  readonly js: JetStreamClient;
  readonly jsm: JetStreamManager;
  readonly clickhouse: ClickHouseClient;
  readonly redis: RedisClient;
  readonly messages: readonly Message[];
  readonly caps: readonly GlobalCap[];
};

/** What the checker found: every count but `entries`, `decisions`, `sends` and `deadLetters` must be 0, and the replay identical. */
export type Verdict = {
  readonly acked: number;
  readonly entries: number;
  readonly decisions: number;
  readonly sends: number;
  readonly deadLetters: number;
  readonly missingEntries: number;
  readonly missingDecisions: number;
  readonly extraDecisions: number;
  readonly wrongDecisions: number;
  readonly duplicates: number;
  readonly deliveryDifference: number;
  readonly violations: {
    readonly max_sends: number;
    readonly min_interval: number;
    readonly global_cap: number;
  };
  readonly redisMismatches: number;
  readonly replay: { readonly identical: boolean; readonly hash: string; readonly hashAgain: string };
  /** With a webhook receiver in the run (a scenario with held sends): its channel's sends, stage by stage. */
  readonly held?: HeldVerdict;
  readonly examples: readonly string[];
};

/** A send seen at a stage: whose, and when (the deliveries stream's timestamp, or the receiver's `Date.now()`), ms. */
export type Arrival = { readonly user_id: string; readonly decision_id: string; readonly arrived: number };

/** How the sends of a channel came through a stage (`matchArrivals`): `lost`, `early` and `unexpected` must be 0. */
export type ArrivalCounts = {
  /** Sends seen at least once. */
  readonly delivered: number;
  /** Sends never seen. */
  readonly lost: number;
  /** Sightings beyond a send's first. */
  readonly twice: number;
  /** Sends first seen before their delivery time (a held send's `deliver_at`, else its entry's `at`). */
  readonly early: number;
  /** Sightings of no recorded send. */
  readonly unexpected: number;
  /** Of the held sends, from `deliver_at` to when each was first seen, ms: the median and the longest. */
  readonly heldLateness: { readonly median: number; readonly max: number };
};

/** The webhook channel's sends (issue #18): released to the deliveries stream, then received. */
export type HeldVerdict = {
  /** The webhook sends ClickHouse recorded, and of them those held for later (with `deliver_at`). */
  readonly sends: number;
  readonly held: number;
  /**
   * On the deliveries stream, timed by the server: what the matcher and the held sends' releaser
   * did. Its `twice` too must be 0: one delivery per send is Nudge's promise (README "Deliveries").
   */
  readonly released: ArrivalCounts;
  /**
   * At the receiver, timed by it: what the webhook sender did with them. Its `twice` is counted,
   * not failed: the webhook sender is at least once, its `Idempotency-Key` there for the receiver
   * to drop a repeat (README "Deliveries").
   */
  readonly received: ArrivalCounts;
  /** The receiver's answers that never reached the sender (the connection closed first): each a fair reason for a repeat. */
  readonly unanswered: number;
  /** Held sends cancelled (`delivery_outcomes`): none is expected, no message is paused in the run. */
  readonly cancelled: number;
};

const faults = (c: ArrivalCounts) => c.lost + c.twice + c.early + c.unexpected;

export const passed = (v: Verdict): boolean =>
  v.missingEntries + v.missingDecisions + v.extraDecisions + v.wrongDecisions + v.duplicates === 0 &&
  v.deliveryDifference === 0 &&
  v.violations.max_sends + v.violations.min_interval + v.violations.global_cap === 0 &&
  v.redisMismatches === 0 &&
  v.replay.identical &&
  v.replay.hash === v.replay.hashAgain &&
  (v.held === undefined || faults(v.held.released) + faults(v.held.received) + v.held.cancelled === 0);

/**
 * Waits until the run has settled: every partition's committed position is its last log message,
 * the ClickHouse writers have nothing pending, the held stream holds no
 * send (each released or cancelled: call it once every held send is due), and then the `senders`'
 * consumers (stream, durable) have nothing pending. Returns the ms it took.
 */
export async function settle(
  s: RunServices,
  timeoutMs = 180_000,
  senders: readonly (readonly [string, string])[] = [],
): Promise<number> {
  const started = Date.now();
  const store = new RedisStateStore(s.redis, s.ns);
  const durables: [string, string][] = [
    [s.ns.logStream, 'audit_writer'],
    [s.ns.decisionsStream, 'audit_writer'],
    [s.ns.deadLettersStream, 'audit_writer'],
  ];
  while (Date.now() - started < timeoutMs) {
    let done = true;
    for (let p = 0; p < s.partitions && done; p++) {
      const last = await s.jsm.streams
        .getMessage(s.ns.logStream, { last_by_subj: s.ns.logSubject(p) })
        .then((m) => m.seq)
        .catch(() => 0);
      done = (await store.load(p, []).catch(() => ({ applied: -1 }))).applied === last;
    }
    for (const [stream, durable] of durables) {
      if (!done) break;
      const info = await s.jsm.consumers.info(stream, durable).catch(() => undefined);
      done = info !== undefined && info.num_pending === 0 && info.num_ack_pending === 0;
    }
    // After the commits: the matcher has put every held send on the held stream before committing it.
    if (done)
      done =
        (await s.jsm.streams.info(s.ns.heldStream).then(
          (i) => i.state.messages,
          // No held stream holds nothing; another failure is no answer yet.
          (error: unknown) =>
            error instanceof NatsError && error.api_error?.err_code === STREAM_NOT_FOUND ? 0 : -1,
        )) === 0;
    // After the held stream: every held send is then on the deliveries stream.
    for (const [stream, durable] of senders) {
      if (!done) break;
      const info = await s.jsm.consumers.info(stream, durable).catch(() => undefined);
      done = info !== undefined && info.num_pending === 0 && info.num_ack_pending === 0;
    }
    if (done) return Date.now() - started;
    await sleep(500);
  }
  throw new Error(`the run did not settle within ${timeoutMs} ms`);
}

/**
 * DESIGN §5 checked against what the run recorded (issue #6): call after `settle`. With a webhook
 * receiver's arrivals (once its sender has nothing pending), each webhook send is checked to have
 * come exactly once to the deliveries stream and at least once to the receiver, never before its
 * delivery time (issue #18).
 */
export async function checkRun(
  s: RunServices,
  acked: ReadonlyMap<string, { user_id: string; id: string }>,
  webhook?: { readonly arrivals: readonly Arrival[]; readonly unanswered: number },
): Promise<Verdict> {
  const examples: string[] = [];
  const note = (line: string) => {
    if (examples.length < 10) examples.push(line);
  };
  const db = s.ns.database;
  const entries = await logEntries(s.clickhouse, db);
  const stored = new Set(entries.map((e) => `${e.user_id}\u0000${e.id}`));
  let missingEntries = 0;
  for (const [key, entry] of acked)
    if (!stored.has(key)) {
      missingEntries++;
      note(`acknowledged, not in log_entries: ${entry.user_id} ${entry.id}`);
    }
  // What the decisions must be: the core over the recorded log, in log order, with the run's rules.
  const replayer = new Replayer(buildRuleIndex(s.messages), compileCaps(s.caps));
  // Keyed by the decision row's identity (user, id, at): an entry id sent again after its user's
  // record of applied ids forgot it (README "Repeated entries": a hundred of the user's entries
  // later, at ten thousand entries a second) is a new entry, decided again under the same id.
  const expected = new Map<string, string>();
  const decidedIds = new Set<string>();
  let decidedAgain = 0;
  for (const entry of entries)
    for (const d of replayer.apply(entry)) {
      const id = `${d.user_id}\u0000${d.decision_id}`;
      const row = `${id}\u0000${d.at}`;
      // Again at the same time, it is the same row (ClickHouse keeps one).
      if (decidedIds.has(id) && !expected.has(row)) decidedAgain++;
      decidedIds.add(id);
      expected.set(
        row,
        `${d.outcome}:${d.reason ?? ''}:${d.at}:${d.outcome === 'sent' ? (d.deliver_at ?? '') : ''}`,
      );
    }
  const recorded = await plainRows<{
    user_id: string;
    decision_id: string;
    outcome: string;
    reason: string | null;
    at: string;
    deliver_at: string | null;
    message_id: string;
    channel: string;
  }>(
    s.clickhouse,
    `SELECT user_id, decision_id, outcome, reason, at, deliver_at, message_id, channel FROM ${db}.decisions FINAL`,
  );
  const got = new Map(
    recorded.map((r) => [
      `${r.user_id}\u0000${r.decision_id}\u0000${r.at}`,
      `${r.outcome}:${r.reason ?? ''}:${r.at}:${r.deliver_at ?? ''}`,
    ]),
  );
  let [missingDecisions, extraDecisions, wrongDecisions] = [0, 0, 0];
  for (const [key, value] of expected) {
    const recordedValue = got.get(key);
    if (recordedValue === undefined) {
      missingDecisions++;
      note(`missing decision ${key.replaceAll('\u0000', ' ')} (${value})`);
    } else if (recordedValue !== value) {
      wrongDecisions++;
      note(`decision ${key.replaceAll('\u0000', ' ')}: ${recordedValue}, the core says ${value}`);
    }
  }
  for (const key of got.keys())
    if (!expected.has(key)) {
      extraDecisions++;
      note(`decision no entry calls for: ${key.replaceAll('\u0000', ' ')}`);
    }
  if (decidedAgain > 0)
    note(
      `${decidedAgain} decisions made again, by the core as live, for ids sent again past their user's record of applied ids (README "Repeated entries")`,
    );
  const [dup] = await plainRows<{ n: string }>(
    s.clickhouse,
    `SELECT count() - uniqExact(user_id, decision_id) AS n FROM ${db}.decisions FINAL`,
  );
  const sends = recorded.filter((r) => r.outcome === 'sent');
  const deliveries = (await s.jsm.streams.info(s.ns.deliveriesStream)).state.messages;
  const violations = countViolations(sends, s.messages, s.caps, note);
  const redisMismatches = await compareRedis(s, sends, note);
  const [dead] = await plainRows<{ n: string }>(
    s.clickhouse,
    `SELECT count() AS n FROM ${db}.dead_letters FINAL`,
  );
  // A loop, not a spread: a run at thousands of entries a second holds more than a call's arguments.
  let from = Infinity;
  let to = -Infinity;
  for (const { received_at } of entries) {
    from = Math.min(from, received_at);
    to = Math.max(to, received_at + 1);
  }
  const catalog = await catalogHistory(s.js, s.ns);
  const recordedLog = new ClickHouseRecordedLog(s.clickhouse, db);
  const first = await replayWindow({ recorded: recordedLog, catalog }, from, to);
  const again = await replayWindow({ recorded: recordedLog, catalog }, from, to);
  for (const change of first.first_differences) note(`replay differs: ${JSON.stringify(change)}`);
  let held: { held: HeldVerdict } | undefined;
  if (webhook !== undefined) {
    const channelSends = sends.filter((send) => send.channel === 'webhook');
    held = {
      held: {
        sends: channelSends.length,
        held: channelSends.filter((send) => send.deliver_at !== null).length,
        released: matchArrivals(channelSends, await releasedTo(s, 'webhook'), (line) => {
          note(`deliveries stream: ${line}`);
        }),
        received: matchArrivals(channelSends, webhook.arrivals, (line) => {
          note(`receiver: ${line}`);
        }),
        unanswered: webhook.unanswered,
        cancelled: await cancelledSends(s.clickhouse, db, note),
      },
    };
  }
  return {
    acked: acked.size,
    entries: entries.length,
    decisions: recorded.length,
    sends: sends.length,
    deadLetters: Number(dead?.n ?? 0),
    missingEntries,
    missingDecisions,
    extraDecisions,
    wrongDecisions,
    // Ids in two rows that the core decides in one (the rows it decides again are in `expected`).
    duplicates: Number(dup?.n ?? 0) - decidedAgain,
    deliveryDifference: deliveries - sends.length,
    violations,
    redisMismatches,
    replay: { identical: first.identical, hash: first.hash, hashAgain: again.hash },
    ...held,
    examples,
  };
}

/** A recorded send: `at` is its entry's, `deliver_at` (null or absent for a send made at once) when it is held for later. */
type Send = {
  user_id: string;
  decision_id?: string;
  message_id: string;
  channel: string;
  at: string;
  deliver_at?: string | null;
};

/** When a send is delivered, and counted by every limit (issue #18): its `deliver_at`, else its entry's `at`. */
const deliveredAt = (send: Pick<Send, 'at' | 'deliver_at'>): number => Number(send.deliver_at ?? send.at);

/** The sends in `delivery_outcomes` cancelled before they were due (the releaser's, when a message was paused). */
async function cancelledSends(
  client: ClickHouseClient,
  db: string,
  note: (line: string) => void,
): Promise<number> {
  const [row] = await plainRows<{ n: string }>(
    client,
    `SELECT count() AS n FROM ${db}.delivery_outcomes FINAL WHERE outcome = 'cancelled'`,
  );
  const cancelled = Number(row?.n ?? 0);
  if (cancelled > 0) note(`${cancelled} held sends cancelled, with no message paused`);
  return cancelled;
}

/** Every delivery of a channel on the deliveries stream, when the server stored it. */
async function releasedTo(s: RunServices, channel: Channel): Promise<Arrival[]> {
  // One subject, as `filterSubjects` of one: nats-server 2.9 has no `filter_subjects`.
  const consumer = await s.js.consumers.get(s.ns.deliveriesStream, {
    filterSubjects: s.ns.deliverySubject(channel),
  });
  const out: Arrival[] = [];
  for (;;) {
    const before = out.length;
    for await (const message of await consumer.fetch({ max_messages: 1_000, expires: 1_000 })) {
      const delivery = decodeValue(message.data) as { user_id: string; decision_id: string };
      out.push({
        user_id: delivery.user_id,
        decision_id: delivery.decision_id,
        arrived: Math.floor(message.info.timestampNanos / 1_000_000),
      });
    }
    if (out.length === before) break;
  }
  await consumer.delete().catch(() => undefined);
  return out;
}

/**
 * The sightings of a channel's sends at one stage against the sends: each must be seen exactly
 * once (or, with `repeatsAllowed`, at least once: repeats are counted, not noted), at or after its
 * delivery time (every clock here is this machine's), and nothing else.
 */
export function matchArrivals(
  sends: readonly Send[],
  arrivals: readonly Arrival[],
  note: (line: string) => void,
  repeatsAllowed = false,
): ArrivalCounts {
  const key = (user: string, decision: string) => `${user}\u0000${decision}`;
  const byKey = new Map<string, number[]>();
  for (const arrival of arrivals) {
    const k = key(arrival.user_id, arrival.decision_id);
    const times = byKey.get(k);
    if (times === undefined) byKey.set(k, [arrival.arrived]);
    else times.push(arrival.arrived);
  }
  let [delivered, lost, twice, early] = [0, 0, 0, 0];
  const lateness: number[] = [];
  const known = new Set<string>();
  for (const send of sends) {
    const name = `${send.user_id} ${send.decision_id ?? ''}`;
    const k = key(send.user_id, send.decision_id ?? '');
    known.add(k);
    const times = byKey.get(k);
    if (times === undefined) {
      lost++;
      note(`${name}: sent, never seen`);
      continue;
    }
    delivered++;
    twice += times.length - 1;
    const first = Math.min(...times);
    if (times.length > 1 && !repeatsAllowed)
      note(`${name}: seen ${times.length} times, ${Math.max(...times) - first} ms apart`);
    if (first < deliveredAt(send)) {
      early++;
      note(`${name}: seen ${deliveredAt(send) - first} ms before it was due`);
    }
    if (send.deliver_at !== undefined && send.deliver_at !== null) lateness.push(first - deliveredAt(send));
  }
  let unexpected = 0;
  for (const [k, times] of byKey)
    if (!known.has(k)) {
      unexpected += times.length;
      note(`seen, no recorded send: ${k.replace('\u0000', ' ')}`);
    }
  lateness.sort((a, b) => a - b);
  return {
    delivered,
    lost,
    twice,
    early,
    unexpected,
    heldLateness: { median: lateness[Math.floor(lateness.length / 2)] ?? 0, max: lateness.at(-1) ?? 0 },
  };
}

/**
 * Limits broken by the recorded sends: max_sends and min_interval per (user, message), each global
 * cap over every window, every send counted at its delivery time (issue #18).
 */
export function countViolations(
  sends: readonly Send[],
  messages: readonly Message[],
  caps: readonly GlobalCap[],
  note: (line: string) => void,
) {
  const byId = new Map(messages.map((m) => [m.id, m]));
  const byUser = new Map<string, Send[]>();
  for (const send of sends) {
    const list = byUser.get(send.user_id);
    if (list === undefined) byUser.set(send.user_id, [send]);
    else list.push(send);
  }
  const violations = { max_sends: 0, min_interval: 0, global_cap: 0 };
  for (const [user, list] of byUser) {
    // In delivery order, and every limit at delivery times: a held send counts when it goes out.
    list.sort((a, b) => deliveredAt(a) - deliveredAt(b));
    const last = new Map<string, number>();
    const counts = new Map<string, number>();
    for (const send of list) {
      const message = byId.get(send.message_id);
      if (message === undefined) continue;
      const count = (counts.get(send.message_id) ?? 0) + 1;
      counts.set(send.message_id, count);
      if (message.frequency.max_sends !== null && count > message.frequency.max_sends) {
        violations.max_sends++;
        note(`${user}: ${send.message_id} sent ${count} times, max_sends ${message.frequency.max_sends}`);
      }
      const before = last.get(send.message_id);
      if (before !== undefined && deliveredAt(send) - before < message.frequency.min_interval) {
        violations.min_interval++;
        note(`${user}: ${send.message_id} delivered ${deliveredAt(send) - before} ms after the last`);
      }
      last.set(send.message_id, deliveredAt(send));
    }
    for (const cap of caps) {
      const counted = list.filter(
        (s) =>
          byId.get(s.message_id)?.global_cap_exempt !== true &&
          (cap.channel === undefined || cap.channel === s.channel),
      );
      for (let i = 0, start = 0; i < counted.length; i++) {
        const at = deliveredAt(counted[i] as Send);
        while (deliveredAt(counted[start] as Send) <= at - cap.per) start++;
        if (i - start + 1 > cap.max) {
          violations.global_cap++;
          note(`${user}: ${i - start + 1} sends within ${cap.per} ms, cap ${cap.max}`);
        }
      }
    }
  }
  return violations;
}

/** Users whose sends in Redis (count and last delivery time, per message) are not what ClickHouse recorded. */
async function compareRedis(
  s: RunServices,
  sends: readonly Send[],
  note: (line: string) => void,
): Promise<number> {
  const recorded = new Map<string, Map<string, { count: number; last: number }>>();
  for (const send of sends) {
    const perUser = recorded.get(send.user_id) ?? new Map<string, { count: number; last: number }>();
    const now = perUser.get(send.message_id) ?? { count: 0, last: 0 };
    perUser.set(send.message_id, { count: now.count + 1, last: Math.max(now.last, deliveredAt(send)) });
    recorded.set(send.user_id, perUser);
  }
  const store = new RedisStateStore(s.redis, s.ns);
  let mismatches = 0;
  const byPartition = new Map<number, string[]>();
  for (const user of recorded.keys()) {
    const partition = partitionOf(user, s.partitions);
    const users = byPartition.get(partition);
    if (users === undefined) byPartition.set(partition, [user]);
    else users.push(user);
  }
  for (const [partition, users] of byPartition)
    for (let i = 0; i < users.length; i += 500) {
      // One round trip for 500 users of a partition.
      const chunk = users.slice(i, i + 500);
      const loaded = await store.load(partition, chunk);
      chunk.forEach((user, j) => {
        const flat = loaded.states[j]?.sends ?? [];
        const inRedis = new Map<string, { count: number; last: number }>();
        for (let k = 0; k < flat.length; k += 3)
          inRedis.set(String(flat[k]), { count: Number(flat[k + 1]), last: Number(flat[k + 2]) });
        const want = recorded.get(user) ?? new Map<string, { count: number; last: number }>();
        const same =
          inRedis.size === want.size &&
          [...want].every(([m, v]) => inRedis.get(m)?.count === v.count && inRedis.get(m)?.last === v.last);
        if (!same) {
          mismatches++;
          note(
            `${user}: Redis holds ${JSON.stringify([...inRedis])}, ClickHouse ${JSON.stringify([...want])}`,
          );
        }
      });
    }
  return mismatches;
}

async function plainRows<T>(client: ClickHouseClient, query: string): Promise<T[]> {
  const result = await client.query({ query, format: 'JSONEachRow' });
  return result.json<T>();
}

/** The recorded log in log order, parsed back with the entry contract. */
async function logEntries(client: ClickHouseClient, db: string): Promise<LogEntry[]> {
  const raw = await plainRows<Record<string, string>>(
    client,
    `SELECT entry_id, type, user_id, name, received_at, metadata, context, attributes
     FROM ${db}.log_entries FINAL ORDER BY partition, seq, position`,
  );
  return raw.map((row) => {
    const line = JSON.stringify({
      type: row['type'],
      id: row['entry_id'],
      user_id: row['user_id'],
      received_at: Number(row['received_at']),
      ...(row['type'] === 'identify'
        ? { attributes: JSON.parse(row['attributes'] ?? '{}') as unknown }
        : {
            name: row['name'],
            metadata: JSON.parse(row['metadata'] ?? '{}') as unknown,
            context: JSON.parse(row['context'] ?? '{}') as unknown,
          }),
    });
    return parseEntry(line, () => 'log_entries');
  });
}
