import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clickhouseClient } from '../clickhouse-cli.ts';
import { migrateAudit } from '../../pipeline/adapters/clickhouse/audit-schema.ts';
import { ClickHouseAuditSink } from '../../pipeline/adapters/clickhouse/clickhouse-audit-sink.ts';
import { ClickHouseInAppOutcomes } from '../../pipeline/adapters/clickhouse/clickhouse-inapp-outcomes.ts';
import { compileCaps } from '../../pipeline/core/caps.ts';
import type { LogEntry } from '../../pipeline/core/log-entry.ts';
import { MessageListSchema } from '../../pipeline/core/message-schema.ts';
import { buildRuleIndex } from '../../pipeline/core/rule-index.ts';
import { Replayer } from '../../pipeline/replay/replayer.ts';
import { ServiceUnavailable } from '../../pipeline/errors.ts';
import type { InAppOutcome } from '../../pipeline/ports/delivery.ts';
import { apiFixture } from './api-fixture.ts';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
/** One day of decisions from here; the funnel is asked over it. */
const T0 = Date.UTC(2026, 9, 20);
const END = T0 + DAY;
const ACTIONS = ['seen', 'clicked', 'dismissed'] as const;

let api: Awaited<ReturnType<typeof apiFixture>>;
/** Every outcome recorded, once each (the test records each of them twice). */
let recorded: InAppOutcome[] = [];

async function funnel(query: string) {
  const response = await api.app.inject({
    method: 'GET',
    url: `/v1/stats/messages?${query}`,
    headers: { authorization: `Bearer ${api.keys.read}` },
  });
  expect(response.statusCode, response.body).toBe(200);
  return (JSON.parse(response.body) as { messages: Record<string, unknown>[] }).messages;
}

/** Seen, clicked and dismissed of a message by hand, over the outcomes recorded: those reported in [from, to). */
const byHand = (message: string, from: number, to: number) =>
  Object.fromEntries(
    ACTIONS.map((action) => [
      action,
      recorded.filter((o) => o.message_id === message && o.outcome === action && o.at >= from && o.at < to)
        .length,
    ]),
  );

/**
 * A banner (at most one an hour) and a push on `upload`, 200 uploads by 8 users over the day (one
 * every 58 minutes each, so every other banner is suppressed). Of the banner's sends every one but
 * each fifth is seen, each third clicked, each fourth dismissed, from a minute to an hour after
 * the send; those of the day's last hour are reported an hour later, after the day.
 */
beforeAll(async () => {
  api = await apiFixture();
  await migrateAudit(api.clickhouse, api.ns.database);
  const messages = MessageListSchema.parse([
    {
      id: 'upload-banner',
      channel: 'banner',
      state: 'live',
      trigger: { event: 'upload' },
      frequency: { min_interval: '1h' },
      template: { body: 'shared?' },
    },
    {
      id: 'upload-push',
      channel: 'push',
      state: 'live',
      trigger: { event: 'upload' },
      template: { body: 'hi' },
    },
  ]);
  const log: LogEntry[] = Array.from({ length: 200 }, (_, i) => ({
    type: 'track',
    id: `e${i}`,
    name: 'upload',
    user_id: `u${i % 8}`,
    received_at: T0 + Math.floor((i / 200) * DAY),
  }));
  const replayer = new Replayer(buildRuleIndex(messages), compileCaps([]));
  const decisions = log.flatMap((entry, i) =>
    replayer.apply(entry).map((decision) => ({ decision, partition: 0, seq: i + 1 })),
  );
  await new ClickHouseAuditSink(api.clickhouse, api.ns.database).insertDecisions(decisions);
  const sends = decisions
    .map((d) => d.decision)
    .filter((d) => d.outcome === 'sent' && d.channel === 'banner');
  recorded = sends.flatMap((send, i) => {
    const latency = (1 + (i % 60)) * 60_000;
    const lastHour = send.at >= END - HOUR;
    const done: InAppOutcome['outcome'][] = [];
    if (i % 5 !== 0) done.push('seen');
    if (i % 3 === 0) done.push('clicked');
    if (i % 4 === 0) done.push('dismissed');
    return done.map((outcome, k) => ({
      decision_id: send.decision_id,
      message_id: send.message_id,
      user_id: send.user_id,
      channel: send.channel,
      outcome,
      latency_ms: (lastHour ? HOUR : latency) + k,
      at: send.at + (lastHour ? HOUR : latency) + k,
    }));
  });
  const outcomes = new ClickHouseInAppOutcomes(api.clickhouse, api.ns.database);
  // Each outcome twice, in separate inserts (a page's retry, a second tab): counted once.
  await outcomes.record(recorded);
  await outcomes.record(recorded);
  await outcomes.record([]);
}, 120_000);

afterAll(async () => {
  await api.close();
});

describe('in-app outcomes in the funnel (GET /v1/stats/messages)', { timeout: 60_000 }, () => {
  it('stores each (send, action) once as FINAL reads it, though it was written twice', async () => {
    const [row] = await clickhouseClient<{ rows: string; final: string }>(
      `SELECT (SELECT count() FROM ${api.ns.database}.inapp_outcomes) AS rows,
        (SELECT count() FROM ${api.ns.database}.inapp_outcomes FINAL) AS final`,
    );
    expect(Number(row?.final)).toBe(recorded.length);
    expect(Number(row?.rows)).toBe(2 * recorded.length);
  });

  it('counts seen, clicked and dismissed per message, as ClickHouse and a hand count give them', async () => {
    const answer = await funnel(`from=${T0}&to=${END}`);
    const banner = answer.find((m) => m['message_id'] === 'upload-banner');
    const expected = byHand('upload-banner', T0, END);
    expect(banner).toMatchObject({ channel: 'banner', ...expected });
    const counted = await clickhouseClient<Record<(typeof ACTIONS)[number], string>>(
      `SELECT countIf(outcome = 'seen') AS seen, countIf(outcome = 'clicked') AS clicked,
        countIf(outcome = 'dismissed') AS dismissed FROM ${api.ns.database}.inapp_outcomes FINAL
       WHERE message_id = 'upload-banner' AND at >= ${T0} AND at < ${END}`,
    );
    expect(Object.fromEntries(ACTIONS.map((a) => [a, Number(counted[0]?.[a])]))).toEqual(expected);
    // The data under test has every action, and some reported after the day: those are not counted.
    for (const action of ACTIONS) expect(expected[action]).toBeGreaterThan(0);
    expect(recorded.some((o) => o.at >= END && o.outcome === 'seen')).toBe(true);
    expect(banner?.['seen']).toBeLessThan(recorded.filter((o) => o.outcome === 'seen').length);
    // Nothing reports what a person did with a push: zeros, and the funnel's own fields in their place.
    expect(answer.find((m) => m['message_id'] === 'upload-push')).toMatchObject({
      channel: 'push',
      seen: 0,
      clicked: 0,
      dismissed: 0,
    });
    expect(Object.keys(banner ?? {})).toEqual([
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
    const tail = `from=${T0}&to=${END + DAY}`;
    expect((await funnel(`${tail}&message=upload-banner`)).map((m) => m['message_id'])).toEqual([
      'upload-banner',
    ]);
    const [banner] = await funnel(`${tail}&channel=banner`);
    expect(banner).toMatchObject(byHand('upload-banner', T0, END + DAY));
    expect(banner?.['seen']).toBe(recorded.filter((o) => o.outcome === 'seen').length);
    const [push] = await funnel(`${tail}&channel=push`);
    expect(push).toMatchObject({ message_id: 'upload-push', seen: 0, clicked: 0, dismissed: 0 });
    // A range without decisions has no message to count for, whatever was reported in it.
    expect(await funnel(`from=${END}&to=${END + DAY}`)).toEqual([]);
  });

  it('answers ClickHouse not answering with ServiceUnavailable, naming no host or database', async () => {
    const nowhere = new ClickHouseInAppOutcomes(api.clickhouse, `${api.ns.database}_missing`);
    const error = await nowhere.record(recorded.slice(0, 1)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ServiceUnavailable);
    expect((error as Error).message).not.toContain(api.ns.database);
  });
});
