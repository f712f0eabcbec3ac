import { randomUUID } from 'node:crypto';
import { ClickHouseLogLevel, createClient } from '@clickhouse/client';
import type { NatsConnection } from 'nats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrateAudit } from '../../pipeline/adapters/clickhouse/audit-schema.ts';
import { ClickHouseAuditSink } from '../../pipeline/adapters/clickhouse/clickhouse-audit-sink.ts';
import { ClickHouseRecordedLog } from '../../pipeline/adapters/clickhouse/recorded-log.ts';
import { ClickHouseReplayStore } from '../../pipeline/adapters/clickhouse/replay-store.ts';
import {
  applyMessages,
  catalogHistory,
  catalogStream,
  ensureCatalogStream,
  readCatalog,
} from '../../pipeline/adapters/nats/catalog-stream.ts';
import { connectNats } from '../../pipeline/adapters/nats/connect-nats.ts';
import { loadConfig } from '../../pipeline/config/load-config.ts';
import { compileCaps } from '../../pipeline/core/caps.ts';
import type { LogEntry } from '../../pipeline/core/log-entry.ts';
import { MessageSchema } from '../../pipeline/core/message-schema.ts';
import { partitionOf } from '../../pipeline/core/partition.ts';
import { buildRuleIndex } from '../../pipeline/core/rule-index.ts';
import { Namespace } from '../../pipeline/namespace.ts';
import type { ReplayJobDeps, SweepReport } from '../../pipeline/replay/replay-job.ts';
import { runReplayJob } from '../../pipeline/replay/replay-job.ts';
import type { ReplayReport } from '../../pipeline/replay/replay-report.ts';
import { Replayer } from '../../pipeline/replay/replayer.ts';

const config = loadConfig(process.env);
const ns = new Namespace(`t_${randomUUID().replaceAll('-', '').slice(0, 20)}`);
const clickhouse = createClient({ url: config.clickhouseUrl, log: { level: ClickHouseLogLevel.OFF } });
const MINUTE = 60_000;
const T0 = Date.UTC(2026, 10, 2, 9);
const PARTITIONS = 2;
let nc: NatsConnection;
let deps: ReplayJobDeps;

const nudge = {
  id: 'nudge',
  channel: 'banner',
  state: 'live',
  live_since: T0 - MINUTE,
  trigger: { event: 'upload' },
  frequency: { min_interval: '1h' },
  template: { body: 'ready, {{ user.name | fallback: "there" }}' },
};

/** u1 uploads every 20 minutes, u2 twice; u1 is named before the window and after it opens. */
const log: LogEntry[] = [
  {
    type: 'identify',
    id: 'i1',
    user_id: 'u1',
    received_at: T0 - 10 * MINUTE,
    attributes: { name: 'Ada' },
  } as LogEntry,
  ...[0, 20, 40, 60, 80].map((minute): LogEntry => ({
    type: 'track',
    id: `a${minute}`,
    name: 'upload',
    user_id: 'u1',
    received_at: T0 + minute * MINUTE,
  })),
  ...[0, 90].map((minute): LogEntry => ({
    type: 'track',
    id: `b${minute}`,
    name: 'upload',
    user_id: 'u2',
    received_at: T0 + minute * MINUTE,
  })),
].sort((a, b) => a.received_at - b.received_at);

beforeAll(async () => {
  nc = await connectNats(config.natsUrl, 'recorded replay test');
  const jsm = await nc.jetstreamManager();
  await ensureCatalogStream(jsm, ns);
  await applyMessages(nc.jetstream(), jsm, ns, [MessageSchema.parse(nudge)], T0);
  await migrateAudit(clickhouse, ns.database);
  // Recorded as the live pipeline records it: each entry its own log message, in time order per
  // partition, decided by the core with the stored version.
  const catalog = await readCatalog(jsm, ns);
  const replayer = new Replayer(buildRuleIndex(catalog.messages), compileCaps(catalog.caps));
  const seqs = new Map<number, number>();
  const audit = new ClickHouseAuditSink(clickhouse, ns.database);
  for (const entry of log) {
    const partition = partitionOf(entry.user_id, PARTITIONS);
    const seq = (seqs.get(partition) ?? 0) + 1;
    seqs.set(partition, seq);
    await audit.insertEntries([{ entry, partition, seq, position: 0 }]);
    await audit.insertDecisions(replayer.apply(entry).map((decision) => ({ decision, partition, seq })));
  }
  const store = new ClickHouseReplayStore(clickhouse, ns.database, () => Date.now());
  await store.migrate();
  deps = {
    recorded: new ClickHouseRecordedLog(clickhouse, ns.database),
    catalog: () => catalogHistory(nc.jetstream(), ns),
    store,
    now: () => Date.now(),
  };
}, 60_000);

afterAll(async () => {
  await (await nc.jetstreamManager()).streams.delete(catalogStream(ns)).catch(() => false);
  await nc.drain();
  await clickhouse.command({ query: `DROP DATABASE IF EXISTS \`${ns.database}\`` });
  await clickhouse.close();
});

const window = { from: T0, to: T0 + 2 * 60 * MINUTE };

describe('a replay of the recorded log (ClickHouse) against the recorded decisions', () => {
  it('without overrides: identical, deterministic, stored under its id with its record', async () => {
    const first = (await runReplayJob(deps, 'r_same1', { kind: 'replay', ...window })) as ReplayReport;
    const second = (await runReplayJob(deps, 'r_same2', { kind: 'replay', ...window })) as ReplayReport;
    expect(first).toMatchObject({
      entries: 7,
      decisions: 7,
      identical: true,
      differences: 0,
      users_affected: 0,
    });
    expect(first.flips.total).toBe(0);
    expect(second.hash).toBe(first.hash);
    const record = await deps.store.get('r_same1');
    expect(record).toMatchObject({ status: 'done', kind: 'replay', entries_done: 7, entries_total: 7 });
    expect(record?.report).toEqual(first);
    const stored = await clickhouse.query({
      query: `SELECT count() AS n, countIf(outcome = 'sent') AS sent FROM \`${ns.database}\`.replay_decisions FINAL WHERE replay_id = 'r_same1'`,
      format: 'JSONEachRow',
    });
    expect(await stored.json()).toEqual([{ n: '7', sent: '4' }]);
  });

  it('a window starting mid-traffic rebuilds the state: the sends at 0 still hold u1 back at 40 and let u2 through at 90', async () => {
    const report = (await runReplayJob(deps, 'r_mid', {
      kind: 'replay',
      from: T0 + 30 * MINUTE,
      to: window.to,
    })) as ReplayReport;
    expect(report).toMatchObject({ entries: 4, identical: true });
    expect(report.messages).toEqual([
      {
        message_id: 'nudge',
        before: { sent: 2, suppressed: { min_interval: 2 }, filtered: {}, users_reached: 2 },
        after: { sent: 2, suppressed: { min_interval: 2 }, filtered: {}, users_reached: 2 },
      },
    ]);
  });

  it('min_interval 30m instead of 1h: the diff a hand count gives', async () => {
    // u1 at 0, 20, 40, 60, 80: recorded sent 0 and 60; with 30m sent 0, 40 and 80. u2 at 0 and 90: sent both either way.
    const override = MessageSchema.parse({ ...nudge, frequency: { min_interval: '30m' } });
    const report = (await runReplayJob(deps, 'r_what_if', {
      kind: 'replay',
      ...window,
      messages: [override],
    })) as ReplayReport;
    expect(report.messages).toEqual([
      {
        message_id: 'nudge',
        before: { sent: 4, suppressed: { min_interval: 3 }, filtered: {}, users_reached: 2 },
        after: { sent: 5, suppressed: { min_interval: 2 }, filtered: {}, users_reached: 2 },
      },
    ]);
    expect(report.users_affected).toBe(1);
    expect(report.flips.kinds).toEqual({ 'suppressed→sent': 2, 'sent→suppressed': 1 });
    expect(report.flips.first.map((f) => [f.entry_id, f.recorded?.outcome, f.replayed?.outcome])).toEqual([
      ['a40', 'suppressed', 'sent'],
      ['a60', 'sent', 'suppressed'],
      ['a80', 'suppressed', 'sent'],
    ]);
    const flipped = report.flips.first[1];
    expect(flipped?.recorded?.body).toBe('ready, Ada');
    expect(flipped?.replayed?.explanation).toMatch(/minimum interval of 30m/);
    expect(report.identical).toBe(false);
  });

  it('a sweep of min_interval: sends and users reached for each value, as counted by hand', async () => {
    const report = (await runReplayJob(deps, 'r_sweep', {
      kind: 'sweep',
      ...window,
      target: { message: 'nudge', limit: 'min_interval' },
      values: [15 * MINUTE, 30 * MINUTE, 60 * MINUTE, 120 * MINUTE],
    })) as SweepReport;
    expect(report.recorded).toEqual({ sent: 4, suppressed: { min_interval: 3 }, users_reached: 2 });
    expect(
      report.points.map((p) => [p.value, p.sent, p.suppressed['min_interval'] ?? 0, p.users_reached]),
    ).toEqual([
      [15 * MINUTE, 7, 0, 2],
      [30 * MINUTE, 5, 2, 2],
      [60 * MINUTE, 4, 3, 2],
      [120 * MINUTE, 2, 5, 2],
    ]);
  });

  it('records a failure with its reason when the target is unknown', async () => {
    await expect(
      runReplayJob(deps, 'r_bad', {
        kind: 'sweep',
        ...window,
        target: { message: 'nope', limit: 'min_interval' },
        values: [MINUTE],
      }),
    ).rejects.toThrow(/no message "nope"/);
    expect(await deps.store.get('r_bad')).toMatchObject({
      status: 'failed',
      error: expect.stringMatching(/nope/) as string,
    });
  });
});
