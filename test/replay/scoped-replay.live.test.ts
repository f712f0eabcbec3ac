import { randomUUID } from 'node:crypto';
import { ClickHouseLogLevel, createClient } from '@clickhouse/client';
import type { NatsConnection } from 'nats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrateAudit } from '../../pipeline/adapters/clickhouse/audit-schema.ts';
import { ClickHouseAuditSink } from '../../pipeline/adapters/clickhouse/clickhouse-audit-sink.ts';
import { ClickHouseRecordedLog } from '../../pipeline/adapters/clickhouse/recorded-log.ts';
import {
  applyCaps,
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
import type { Message } from '../../pipeline/core/message-schema.ts';
import { MessageSchema } from '../../pipeline/core/message-schema.ts';
import { partitionOf } from '../../pipeline/core/partition.ts';
import { buildRuleIndex } from '../../pipeline/core/rule-index.ts';
import { Namespace } from '../../pipeline/namespace.ts';
import type { CatalogHistory } from '../../pipeline/ports/recorded-log.ts';
import type { ReplayReport } from '../../pipeline/replay/replay-report.ts';
import { Replayer } from '../../pipeline/replay/replayer.ts';
import type { ReplayOverrides } from '../../pipeline/replay/window-replay.ts';
import { affectedEvents, MissingVersionError, replayWindow } from '../../pipeline/replay/window-replay.ts';
import { ReplayThreads } from '../../bin/replay-threads.ts';
import type { PositionedDecision } from '../../pipeline/ports/decision-sink.ts';

// A replay narrowed to the users an override can affect (the composer's impact preview) must find
// every change that replaying everyone finds. The traffic here ties the messages together through a
// global cap, so a change to one message moves the others' decisions for the users it reaches.

const config = loadConfig(process.env);
const ns = new Namespace(`t_${randomUUID().replaceAll('-', '').slice(0, 20)}`);
const clickhouse = createClient({ url: config.clickhouseUrl, log: { level: ClickHouseLogLevel.OFF } });
const MINUTE = 60_000;
const T0 = Date.UTC(2026, 10, 2, 9);
const PARTITIONS = 3;
const EVENTS = ['upload', 'share', 'comment'];
let nc: NatsConnection;
let catalog: CatalogHistory;
const recorded = new ClickHouseRecordedLog(clickhouse, ns.database);

const message = (id: string, event: string, minInterval: string): Message =>
  MessageSchema.parse({
    id,
    channel: 'banner',
    state: 'live',
    live_since: T0 - 60 * MINUTE,
    trigger: { event },
    frequency: { min_interval: minInterval },
    template: { body: id },
  });

/** A small deterministic generator: the same traffic on every run. */
function traffic(): LogEntry[] {
  let seed = 7;
  const next = (n: number) => {
    seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
    return seed % n;
  };
  const entries: LogEntry[] = [];
  for (let i = 0; i < 400; i++) {
    // Users 0–9 send every event; 10–29 never upload: nothing of theirs can change.
    const user = next(30 * 7) % 30;
    const event = EVENTS[user < 10 ? next(3) : 1 + next(2)] ?? 'share';
    entries.push({
      type: 'track',
      id: `e${i}`,
      name: event,
      user_id: `u${user}`,
      received_at: T0 - 60 * MINUTE + i * 45_000,
    });
  }
  return entries;
}

beforeAll(async () => {
  nc = await connectNats(config.natsUrl, 'scoped replay test');
  const js = nc.jetstream();
  const jsm = await nc.jetstreamManager();
  await ensureCatalogStream(jsm, ns);
  await applyMessages(
    js,
    jsm,
    ns,
    [
      message('ready', 'upload', '30m'),
      message('shared', 'share', '10m'),
      message('thanks', 'comment', '5m'),
    ],
    T0,
  );
  await applyCaps(js, jsm, ns, [{ max: 3, per: 60 * MINUTE }]);
  await migrateAudit(clickhouse, ns.database);
  const live = await readCatalog(jsm, ns);
  const replayer = new Replayer(buildRuleIndex(live.messages), compileCaps(live.caps));
  const seqs = new Map<number, number>();
  const audit = new ClickHouseAuditSink(clickhouse, ns.database);
  const entries = [];
  const decisions = [];
  for (const entry of traffic()) {
    const partition = partitionOf(entry.user_id, PARTITIONS);
    const seq = (seqs.get(partition) ?? 0) + 1;
    seqs.set(partition, seq);
    entries.push({ entry, partition, seq, position: 0 });
    for (const decision of replayer.apply(entry))
      decisions.push({ decision, partition, seq, caps_version: live.capsVersion });
  }
  await audit.insertEntries(entries);
  await audit.insertDecisions(decisions);
  catalog = await catalogHistory(js, ns);
}, 60_000);

afterAll(async () => {
  await (await nc.jetstreamManager()).streams.delete(catalogStream(ns)).catch(() => false);
  await nc.drain();
  await clickhouse.command({ query: `DROP DATABASE IF EXISTS \`${ns.database}\`` });
  await clickhouse.close();
});

const from = T0;
const to = T0 + 4 * 60 * MINUTE;
const replay = (overrides: ReplayOverrides, scope: 'all' | 'affected') =>
  replayWindow({ recorded, catalog, overrides, scope }, from, to);

const changes = (report: ReplayReport, id: string) => ({
  flips: report.flips,
  users_affected: report.users_affected,
  message: report.messages.find((m) => m.message_id === id),
});

describe('a replay of only the users an override can affect', { timeout: 60_000 }, () => {
  it('finds every change a replay of everyone finds: flips, users affected, the message before and after', async () => {
    const overrides = { messages: [message('ready', 'upload', '5m')] };
    const everyone = await replay(overrides, 'all');
    const affected = await replay(overrides, 'affected');
    // The change is real, and reaches another message through the cap.
    expect(everyone.flips.total).toBeGreaterThan(0);
    expect(Object.keys(everyone.flips.kinds)).toContain('suppressed→sent');
    expect(everyone.flips.first.some((f) => f.message_id !== 'ready')).toBe(true);
    expect(changes(affected, 'ready')).toEqual(changes(everyone, 'ready'));
    expect(everyone.scope).toBeUndefined();
    const uploaders = new Set(
      traffic()
        .filter(
          (e) => e.type === 'track' && e.name === 'upload' && e.received_at >= from && e.received_at < to,
        )
        .map((e) => e.user_id),
    );
    expect(affected.scope).toEqual({
      events: ['upload'],
      users: uploaders.size,
      window_entries: everyone.entries,
    });
    expect(affected.entries).toBeLessThan(everyone.entries);
  });

  it('takes the events of every version of an overridden message: a trigger moved to another event', async () => {
    const moved = message('ready', 'comment', '30m');
    expect(affectedEvents(catalog, { messages: [moved] })).toEqual(['comment', 'upload']);
    const everyone = await replay({ messages: [moved] }, 'all');
    const affected = await replay({ messages: [moved] }, 'affected');
    expect(everyone.flips.total).toBeGreaterThan(0);
    expect(changes(affected, 'ready')).toEqual(changes(everyone, 'ready'));
    expect(changes(affected, 'thanks')).toEqual(changes(everyone, 'thanks'));
  });

  it('replays everyone when the caps change: any user with a send may be affected', async () => {
    const caps = [{ max: 1, per: 60 * MINUTE }];
    expect(affectedEvents(catalog, { caps })).toBeUndefined();
    const report = await replay({ caps }, 'affected');
    expect(report.scope).toBeUndefined();
    expect(report.entries).toBe((await replay({ caps }, 'all')).entries);
  });
});

describe('a replay on threads (bin/replay-threads.ts)', { timeout: 60_000 }, () => {
  // Every window here is replayed on threads, however small: two parts of the three partitions.
  const threads = new ReplayThreads({ url: config.clickhouseUrl, database: ns.database }, 2, 0);
  const collect = () => {
    const decisions: PositionedDecision[] = [];
    return {
      decisions,
      sink: (batch: readonly PositionedDecision[]) => {
        decisions.push(...batch);
        return Promise.resolve();
      },
    };
  };
  const byId = (decisions: readonly PositionedDecision[]) =>
    decisions.map((d) => `${d.partition}:${d.seq}:${d.decision.decision_id}`).sort();

  it('gives the report (hash, counts, first differences) and the decisions of one thread', async () => {
    const overrides = { messages: [message('ready', 'upload', '5m')] };
    for (const [options, scope] of [
      [{}, 'all'],
      [{ overrides }, 'all'],
      [{ overrides }, 'affected'],
    ] as const) {
      const here = collect();
      const there = collect();
      const progress: number[] = [];
      const alone = await replayWindow({ recorded, catalog, ...options, scope, sink: here.sink }, from, to);
      const split = await replayWindow(
        {
          recorded,
          catalog,
          ...options,
          scope,
          sink: there.sink,
          runner: threads,
          onProgress: (done) => progress.push(done),
        },
        from,
        to,
      );
      expect(split).toEqual(alone);
      expect(byId(there.decisions)).toEqual(byId(here.decisions));
      expect(progress.at(-1)).toBe(alone.entries);
    }
  });

  it('fails as one thread fails when the catalog lacks a version the decisions used', async () => {
    const partial: CatalogHistory = {
      ...catalog,
      messages: new Map([...catalog.messages].filter(([key]) => !key.startsWith('ready'))),
    };
    await expect(replayWindow({ recorded, catalog: partial }, from, to)).rejects.toThrow(MissingVersionError);
    await expect(replayWindow({ recorded, catalog: partial, runner: threads }, from, to)).rejects.toThrow(
      MissingVersionError,
    );
  });
});
