import { setTimeout as sleep } from 'node:timers/promises';
import type { ClickHouseClient } from '@clickhouse/client';
import type { Redis } from 'ioredis';
import type { JetStreamClient, JetStreamManager } from 'nats';
import { ClickHouseRecordedLog } from '../../pipeline/adapters/clickhouse/recorded-log.ts';
import { catalogHistory } from '../../pipeline/adapters/nats/catalog-stream.ts';
import { RedisStateStore } from '../../pipeline/adapters/redis/redis-state-store.ts';
import { compileCaps } from '../../pipeline/core/caps.ts';
import type { LogEntry } from '../../pipeline/core/log-entry.ts';
import type { GlobalCap, Message } from '../../pipeline/core/message-schema.ts';
import { partitionOf } from '../../pipeline/core/partition.ts';
import { buildRuleIndex } from '../../pipeline/core/rule-index.ts';
import type { Namespace } from '../../pipeline/namespace.ts';
import { parseEntry } from '../../pipeline/parse-entry.ts';
import { Replayer } from '../../pipeline/replay/replayer.ts';
import { replayWindow } from '../../pipeline/replay/window-replay.ts';

export type RunServices = {
  readonly ns: Namespace;
  readonly partitions: number;
  readonly js: JetStreamClient;
  readonly jsm: JetStreamManager;
  readonly clickhouse: ClickHouseClient;
  readonly redis: Redis;
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
  readonly examples: readonly string[];
};

export const passed = (v: Verdict): boolean =>
  v.missingEntries + v.missingDecisions + v.extraDecisions + v.wrongDecisions + v.duplicates === 0 &&
  v.deliveryDifference === 0 &&
  v.violations.max_sends + v.violations.min_interval + v.violations.global_cap === 0 &&
  v.redisMismatches === 0 &&
  v.replay.identical &&
  v.replay.hash === v.replay.hashAgain;

/**
 * Waits until the run has settled: every partition's committed position is its last log message,
 * and the ClickHouse writers and the delivery forwarder have nothing pending. Returns the ms it took.
 */
export async function settle(s: RunServices, timeoutMs = 180_000): Promise<number> {
  const started = Date.now();
  const store = new RedisStateStore(s.redis, s.ns);
  const durables: [string, string][] = [
    [s.ns.logStream, 'audit_writer'],
    [s.ns.decisionsStream, 'audit_writer'],
    [s.ns.decisionsStream, 'delivery_forwarder'],
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
    if (done) return Date.now() - started;
    await sleep(500);
  }
  throw new Error(`the run did not settle within ${timeoutMs} ms`);
}

/** DESIGN §5 checked against what the run recorded (issue #6): call after `settle`. */
export async function checkRun(
  s: RunServices,
  acked: ReadonlyMap<string, { user_id: string; id: string }>,
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
  const expected = new Map<string, string>();
  for (const entry of entries)
    for (const d of replayer.apply(entry))
      expected.set(`${d.user_id}\u0000${d.decision_id}`, `${d.outcome}:${d.reason ?? ''}:${d.at}`);
  const recorded = await plainRows<{
    user_id: string;
    decision_id: string;
    outcome: string;
    reason: string | null;
    at: string;
    message_id: string;
    channel: string;
  }>(
    s.clickhouse,
    `SELECT user_id, decision_id, outcome, reason, at, message_id, channel FROM ${db}.decisions FINAL`,
  );
  const got = new Map(
    recorded.map((r) => [`${r.user_id}\u0000${r.decision_id}`, `${r.outcome}:${r.reason ?? ''}:${r.at}`]),
  );
  let [missingDecisions, extraDecisions, wrongDecisions] = [0, 0, 0];
  for (const [key, value] of expected) {
    const recordedValue = got.get(key);
    if (recordedValue === undefined) {
      missingDecisions++;
      note(`missing decision ${key.replace('\u0000', ' ')} (${value})`);
    } else if (recordedValue !== value) {
      wrongDecisions++;
      note(`decision ${key.replace('\u0000', ' ')}: ${recordedValue}, the core says ${value}`);
    }
  }
  for (const key of got.keys())
    if (!expected.has(key)) {
      extraDecisions++;
      note(`decision no entry calls for: ${key.replace('\u0000', ' ')}`);
    }
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
  const from = Math.min(...entries.map((e) => e.received_at));
  const to = Math.max(...entries.map((e) => e.received_at)) + 1;
  const catalog = await catalogHistory(s.js, s.ns);
  const recordedLog = new ClickHouseRecordedLog(s.clickhouse, db);
  const first = await replayWindow({ recorded: recordedLog, catalog }, from, to);
  const again = await replayWindow({ recorded: recordedLog, catalog }, from, to);
  for (const change of first.first_differences) note(`replay differs: ${JSON.stringify(change)}`);
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
    duplicates: Number(dup?.n ?? 0),
    deliveryDifference: deliveries - sends.length,
    violations,
    redisMismatches,
    replay: { identical: first.identical, hash: first.hash, hashAgain: again.hash },
    examples,
  };
}

type Send = { user_id: string; message_id: string; channel: string; at: string };

/** Limits broken by the recorded sends: max_sends and min_interval per (user, message), each global cap over every window. */
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
    list.sort((a, b) => Number(a.at) - Number(b.at));
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
      if (before !== undefined && Number(send.at) - before < message.frequency.min_interval) {
        violations.min_interval++;
        note(`${user}: ${send.message_id} sent ${Number(send.at) - before} ms after the last`);
      }
      last.set(send.message_id, Number(send.at));
    }
    for (const cap of caps) {
      const counted = list.filter(
        (s) =>
          byId.get(s.message_id)?.global_cap_exempt !== true &&
          (cap.channel === undefined || cap.channel === s.channel),
      );
      for (let i = 0, start = 0; i < counted.length; i++) {
        const at = Number(counted[i]?.at);
        while (Number(counted[start]?.at) <= at - cap.per) start++;
        if (i - start + 1 > cap.max) {
          violations.global_cap++;
          note(`${user}: ${i - start + 1} sends within ${cap.per} ms, cap ${cap.max}`);
        }
      }
    }
  }
  return violations;
}

/** Users whose sends in Redis (count and last, per message) are not what ClickHouse recorded. */
async function compareRedis(
  s: RunServices,
  sends: readonly Send[],
  note: (line: string) => void,
): Promise<number> {
  const recorded = new Map<string, Map<string, { count: number; last: number }>>();
  for (const send of sends) {
    const perUser = recorded.get(send.user_id) ?? new Map<string, { count: number; last: number }>();
    const now = perUser.get(send.message_id) ?? { count: 0, last: 0 };
    perUser.set(send.message_id, { count: now.count + 1, last: Math.max(now.last, Number(send.at)) });
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
