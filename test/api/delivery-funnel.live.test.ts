import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clickhouseClient } from '../clickhouse-cli.ts';
import type { Decision } from '../../pipeline/core/decision.ts';
import type { StatsMessages } from '../../pipeline/ports/audit-reader.ts';
import { TOP_FAILURE_REASONS } from '../../pipeline/ports/audit-reader.ts';
import type { DeliveryOutcome, InAppOutcome } from '../../pipeline/ports/delivery.ts';
import { apiFixture } from './api-fixture.ts';
import { recordDeliveryTraffic } from './delivery-traffic.ts';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
/** The day of the recorded sends; the funnel is asked over it, and over it and the next. */
const T0 = Date.UTC(2026, 10, 2);
const END = T0 + DAY;

type FunnelRow = StatsMessages['messages'][number];

let api: Awaited<ReturnType<typeof apiFixture>>;
let decisions: Decision[] = [];
/** What senders reported, once each, and a failure stored before `reason` existed. */
let delivered: Pick<DeliveryOutcome, 'decision_id' | 'channel' | 'outcome' | 'reason' | 'at'>[] = [];
let inApp: InAppOutcome[] = [];

/** A failure recorded by a release without the `reason` column, in a table made by that release. */
const LEGACY = {
  decision_id: 'weekly-tip:legacy-1',
  channel: 'email',
  outcome: 'failed' as const,
  attempts: 1,
  status: 550,
  latency_ms: 900,
  at: T0 + HOUR,
};

async function funnel(query: string): Promise<FunnelRow[]> {
  const response = await api.app.inject({
    method: 'GET',
    url: `/v1/stats/messages?${query}`,
    headers: { authorization: `Bearer ${api.keys.read}` },
  });
  expect(response.statusCode, response.body).toBe(200);
  return (JSON.parse(response.body) as StatsMessages).messages;
}

/**
 * The funnel of the decisions of [from, to) and the outcomes reported in it, counted by hand over
 * what the test wrote: one row per message decided in the range, by message id.
 */
function byHand(from: number, to: number): FunnelRow[] {
  const rows = new Map<string, FunnelRow>();
  const users = new Map<string, Set<string>>();
  for (const d of decisions.filter((d) => d.at >= from && d.at < to)) {
    const k = d.message_id;
    const row = rows.get(k) ?? {
      message_id: d.message_id,
      channel: d.channel,
      triggered: 0,
      passed_filters: 0,
      sent: 0,
      delivered: 0,
      failed: 0,
      failed_reasons: [],
      cancelled: 0,
      seen: 0,
      clicked: 0,
      dismissed: 0,
      suppressed: {},
      filtered: {},
      users_reached: 0,
    };
    rows.set(k, row);
    row.triggered++;
    if (d.outcome !== 'filtered') row.passed_filters++;
    if (d.outcome === 'sent') {
      row.sent++;
      users.set(k, (users.get(k) ?? new Set()).add(d.user_id));
    } else row[d.outcome][d.reason] = (row[d.outcome][d.reason] ?? 0) + 1;
  }
  const reasons = new Map<string, Map<string, number>>();
  for (const o of delivered.filter((o) => o.at >= from && o.at < to)) {
    const k = o.decision_id.split(':')[0] ?? '';
    const row = rows.get(k);
    if (row === undefined) continue;
    row[o.outcome]++;
    if (o.outcome === 'failed') {
      const mine = reasons.get(k) ?? new Map<string, number>();
      reasons.set(k, mine.set(o.reason, (mine.get(o.reason) ?? 0) + 1));
    }
  }
  for (const o of inApp.filter((o) => o.at >= from && o.at < to)) {
    const row = rows.get(o.message_id);
    if (row !== undefined) row[o.outcome]++;
  }
  for (const [k, row] of rows) {
    row.users_reached = users.get(k)?.size ?? 0;
    row.failed_reasons = [...(reasons.get(k) ?? [])]
      .map(([reason, failed]) => ({ reason, failed }))
      .sort((a, b) => b.failed - a.failed || (a.reason < b.reason ? -1 : 1))
      .slice(0, TOP_FAILURE_REASONS);
  }
  return [...rows.values()].sort((a, b) => (a.message_id < b.message_id ? -1 : 1));
}

beforeAll(async () => {
  api = await apiFixture();
  // The table as a release before failure reasons made it, holding one failure: the migration adds
  // the column to it (18.16 has no ADD COLUMN IF NOT EXISTS).
  const db = api.ns.database;
  await api.clickhouse.command({ query: `CREATE DATABASE IF NOT EXISTS ${db}` });
  await api.clickhouse.command({
    query: `CREATE TABLE ${db}.delivery_outcomes (decision_id String, channel String, outcome String,
      attempts UInt32, status UInt16, latency_ms UInt64, at UInt64,
      day Date MATERIALIZED toDate(toDateTime(intDiv(at, 1000))))
      ENGINE = ReplacingMergeTree() PARTITION BY toYYYYMM(day) ORDER BY (channel, decision_id)`,
  });
  await api.clickhouse.insert({ table: `${db}.delivery_outcomes`, values: [LEGACY], format: 'JSONEachRow' });
  const recorded = await recordDeliveryTraffic(api, T0);
  // Test sends (POST /v1/messages/test-send) of the day's messages: a person's check, which no count may show.
  await api.clickhouse.insert({
    table: `${db}.delivery_outcomes`,
    values: [
      { ...LEGACY, decision_id: 'test/weekly-tip/1', outcome: 'delivered', reason: '', status: 250 },
      { ...LEGACY, decision_id: 'test/weekly-tip/2', reason: '550 5.1.1 mailbox unavailable' },
      { ...LEGACY, decision_id: 'test/upload-push/3', channel: 'push', outcome: 'delivered', reason: '' },
    ],
    format: 'JSONEachRow',
  });
  await api.clickhouse.insert({
    table: `${db}.inapp_outcomes`,
    values: [
      {
        decision_id: 'test/upload-banner/4',
        message_id: 'upload-banner',
        user_id: 'tester',
        channel: 'banner',
        outcome: 'seen',
        latency_ms: 10,
        at: T0 + HOUR,
      },
    ],
    format: 'JSONEachRow',
  });
  decisions = recorded.decisions;
  delivered = [...recorded.delivered, { ...LEGACY, reason: '' }];
  inApp = recorded.inApp;
}, 120_000);

afterAll(async () => {
  await api.close();
});

describe('the delivery funnel per message (GET /v1/stats/messages)', { timeout: 60_000 }, () => {
  it('adds `reason` to a delivery_outcomes table made before it, whose rows read as ""', async () => {
    const columns = await clickhouseClient<{ name: string; type: string }>(
      `SELECT name, type FROM system.columns WHERE database = '${api.ns.database}' AND table = 'delivery_outcomes'`,
    );
    expect(columns).toContainEqual({ name: 'reason', type: 'String' });
    const [legacy] = await clickhouseClient<{ reason: string }>(
      `SELECT reason FROM ${api.ns.database}.delivery_outcomes WHERE decision_id = '${LEGACY.decision_id}'`,
    );
    expect(legacy).toEqual({ reason: '' });
  });

  it("stores each send's outcome once as FINAL reads it, with the reason its sender gave", async () => {
    const rows = await clickhouseClient<{ decision_id: string; reason: string }>(
      `SELECT decision_id, reason FROM ${api.ns.database}.delivery_outcomes FINAL
        WHERE substring(decision_id, 1, 5) != 'test/' ORDER BY decision_id`,
    );
    const byId = (list: { decision_id: string; reason: string }[]) =>
      list
        .map(({ decision_id, reason }) => ({ decision_id, reason }))
        .sort((a, b) => (a.decision_id < b.decision_id ? -1 : 1));
    expect(rows).toEqual(byId(delivered));
    const [all] = await clickhouseClient<{ n: string }>(
      `SELECT count() AS n FROM ${api.ns.database}.delivery_outcomes`,
    );
    expect(Number(all?.n)).toBeGreaterThan(delivered.length);
  });

  it('counts sent, delivered, failed by reason, seen, clicked, unsubscribed and unreachable as a hand count does (test sends left out)', async () => {
    const answer = await funnel(`from=${T0}&to=${END}`);
    expect(answer).toEqual(byHand(T0, END));
    const row = (message: string) => answer.find((m) => m.message_id === message);
    const mail = row('weekly-tip');
    const push = row('upload-push');
    const banner = row('upload-banner');
    // The data under test has each part of the funnel: opted-out and unreachable users on both
    // addressed channels, more failure reasons than are listed, a failure recorded before reasons.
    for (const addressed of [mail, push]) {
      expect(addressed?.suppressed['unsubscribed']).toBeGreaterThan(0);
      expect(addressed?.suppressed['unreachable']).toBeGreaterThan(0);
      expect(addressed?.delivered).toBeGreaterThan(0);
      expect(addressed?.failed).toBeGreaterThan(0);
    }
    expect(mail?.failed_reasons).toHaveLength(TOP_FAILURE_REASONS);
    expect(
      new Set(delivered.filter((o) => o.outcome === 'failed' && o.channel === 'email').map((o) => o.reason))
        .size,
    ).toBeGreaterThan(TOP_FAILURE_REASONS);
    expect(mail?.failed_reasons[0]).toEqual({
      reason: '550 5.1.1 mailbox unavailable',
      failed: expect.any(Number) as number,
    });
    expect(mail?.failed_reasons.map((r) => r.failed)).toEqual(
      mail?.failed_reasons.map((r) => r.failed).sort((a, b) => b - a),
    );
    expect(banner).toMatchObject({ delivered: 0, failed: 0, failed_reasons: [] });
    expect(banner?.seen).toBeGreaterThan(0);
    expect(banner?.clicked).toBeGreaterThan(0);
    // Mail opens and push notifications shown and clicked, as their tracking links report them;
    // mail clicks and dismissals are not tracked.
    expect(mail?.seen).toBeGreaterThan(0);
    expect(mail).toMatchObject({ clicked: 0, dismissed: 0 });
    expect(push?.seen).toBeGreaterThan(push?.clicked ?? 0);
    expect(push?.clicked).toBeGreaterThan(0);
    expect(push?.dismissed).toBe(0);
    // Sends of the day's last two hours had their outcomes reported after it: not counted here.
    expect((mail?.delivered ?? 0) + (mail?.failed ?? 0)).toBeLessThan(mail?.sent ?? 0);
    expect(Object.keys(mail ?? {})).toEqual([
      'message_id',
      'channel',
      'triggered',
      'passed_filters',
      'sent',
      'delivered',
      'failed',
      'failed_reasons',
      'cancelled',
      'seen',
      'clicked',
      'dismissed',
      'suppressed',
      'filtered',
      'users_reached',
    ]);
  });

  it('counts the outcomes reported in the range asked, under its message and channel filters', async () => {
    const twoDays = `from=${T0}&to=${END + DAY}`;
    const all = await funnel(twoDays);
    expect(all).toEqual(byHand(T0, END + DAY));
    const mail = all.find((m) => m.message_id === 'weekly-tip');
    expect((mail?.delivered ?? 0) + (mail?.failed ?? 0)).toBe((mail?.sent ?? 0) + 1);
    expect(await funnel(`${twoDays}&message=weekly-tip`)).toEqual(
      all.filter((m) => m.message_id === 'weekly-tip'),
    );
    expect(await funnel(`${twoDays}&channel=push`)).toEqual(all.filter((m) => m.channel === 'push'));
    // A range without decisions has no message to count for, whatever was reported in it.
    expect(await funnel(`from=${END + DAY}&to=${END + 2 * DAY}`)).toEqual([]);
  });
});
