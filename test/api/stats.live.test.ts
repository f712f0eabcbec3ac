import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clickhouseClient } from '../clickhouse-cli.ts';
import { dayPartitions, isClean } from '../../pipeline/adapters/clickhouse/day-parts.ts';
import type { LogEntry } from '../../pipeline/core/log-entry.ts';
import type { Message } from '../../pipeline/core/message-schema.ts';
import type { PositionedDecision } from '../../pipeline/ports/decision-sink.ts';
import { apiFixture } from './api-fixture.ts';
import { DAY, END, HOUR, recordTraffic, T0 } from './recorded-traffic.ts';

let api: Awaited<ReturnType<typeof apiFixture>>;
let messages: Message[];
let log: LogEntry[];
let decisions: PositionedDecision[];

const final = () => `${api.ns.database}.decisions FINAL`;
const within = (from: number, to: number) => `at >= ${from} AND at < ${to}`;

async function get(url: string): Promise<Record<string, unknown>> {
  const response = await api.app.inject({
    method: 'GET',
    url,
    headers: { authorization: `Bearer ${api.keys.read}` },
  });
  expect(response.statusCode, response.body).toBe(200);
  return JSON.parse(response.body) as Record<string, unknown>;
}

beforeAll(async () => {
  api = await apiFixture();
  ({ messages, log, decisions } = await recordTraffic(api));
}, 120_000);

afterAll(async () => {
  await api.close();
});

describe(
  'GET /v1/stats: every number equals what clickhouse-client counts over decisions FINAL',
  { timeout: 60_000 },
  () => {
    it('reads a merged day plainly and the others with FINAL: the data under test has both', async () => {
      const days = await dayPartitions(api.clickhouse, api.ns.database, 'decision_facts');
      expect(days.map((d) => [d.day, isClean(d)])).toEqual([
        ['2026-10-05', true],
        ['2026-10-06', false],
        ['2026-10-07', false],
      ]);
      const [raw] = await clickhouseClient<{ rows: string; unique: string }>(
        `SELECT count() AS rows, uniqExact(decision_id) AS unique FROM ${api.ns.database}.decisions`,
      );
      expect(Number(raw?.rows)).toBeGreaterThan(Number(raw?.unique));
    });

    it.each([
      ['the whole range', T0, END],
      ['one day inside it, cut mid-hour', T0 + DAY + HOUR / 2, T0 + 2 * DAY + HOUR / 2],
      ['from an hour into the merged first day', T0 + HOUR, END],
    ])('summary over %s', async (_name, from, to) => {
      const answer = await get(`/v1/stats/summary?from=${from}&to=${to}`);
      const rows = await clickhouseClient<{ outcome: string; reason: string; n: string }>(
        `SELECT outcome, ifNull(reason, '') AS reason, count() AS n FROM ${final()} WHERE ${within(from, to)} GROUP BY outcome, reason`,
      );
      const total = (outcome: string) =>
        rows.filter((r) => r.outcome === outcome).reduce((a, r) => a + Number(r.n), 0);
      const [people] = await clickhouseClient<{ reached: string; decided: string }>(
        `SELECT uniqExactIf(user_id, outcome = 'sent') AS reached, uniqExact(user_id) AS decided
       FROM ${final()} WHERE ${within(from, to)}`,
      );
      expect(answer).toEqual({
        from,
        to,
        decisions: total('sent') + total('suppressed') + total('filtered'),
        sent: total('sent'),
        suppressed: total('suppressed'),
        filtered: total('filtered'),
        reasons: Object.fromEntries(rows.filter((r) => r.reason !== '').map((r) => [r.reason, Number(r.n)])),
        users_decided: Number(people?.decided),
        users_reached: Number(people?.reached),
      });
      expect(total('sent')).toBeGreaterThan(0);
    });

    it('series by hour and outcome, and by day and reason for one message', async () => {
      const hourly = await get(`/v1/stats/series?from=${T0}&to=${END}&bucket=hour&by=outcome`);
      const expected = await clickhouseClient<{ at: string; key: string; n: string }>(
        `SELECT intDiv(at, ${HOUR}) * ${HOUR} AS at, outcome AS key, count() AS n FROM ${final()}
       WHERE ${within(T0, END)} GROUP BY at, key ORDER BY at, key`,
      );
      expect(hourly['points']).toEqual(
        expected.map((r) => ({ at: Number(r.at), key: r.key, decisions: Number(r.n) })),
      );
      const daily = await get(`/v1/stats/series?from=${T0}&to=${END}&bucket=day&by=reason&message=thanks`);
      const byReason = await clickhouseClient<{ at: string; key: string; n: string }>(
        `SELECT intDiv(at, ${DAY}) * ${DAY} AS at, ifNull(reason, '') AS key, count() AS n FROM ${final()}
       WHERE ${within(T0, END)} AND message_id = 'thanks' GROUP BY at, key ORDER BY at, key`,
      );
      expect(daily['points']).toEqual(
        byReason.map((r) => ({ at: Number(r.at), key: r.key, decisions: Number(r.n) })),
      );
    });

    it('per message: the funnel, the reasons and the users reached', async () => {
      const answer = (await get(`/v1/stats/messages?from=${T0}&to=${END}`))['messages'] as Record<
        string,
        unknown
      >[];
      const rows = await clickhouseClient<{ message_id: string; outcome: string; reason: string; n: string }>(
        `SELECT message_id, outcome, ifNull(reason, '') AS reason, count() AS n FROM ${final()}
       WHERE ${within(T0, END)} GROUP BY message_id, outcome, reason`,
      );
      const reached = await clickhouseClient<{ message_id: string; users: string }>(
        `SELECT message_id, uniqExact(user_id) AS users FROM ${final()} WHERE ${within(T0, END)} AND outcome = 'sent' GROUP BY message_id`,
      );
      // What senders reported in the range, per message (the prefix of the decision id) and reason.
      const reported = await clickhouseClient<{
        message_id: string;
        outcome: string;
        reason: string;
        n: string;
      }>(
        `SELECT extract(decision_id, '^[^:]*') AS message_id, outcome, reason, count() AS n
       FROM ${api.ns.database}.delivery_outcomes FINAL WHERE ${within(T0, END)}
       GROUP BY message_id, outcome, reason ORDER BY n DESC, reason`,
      );
      for (const message of messages) {
        const mine = rows.filter((r) => r.message_id === message.id);
        const sum = (keep: (r: (typeof mine)[number]) => boolean) =>
          mine.filter(keep).reduce((a, r) => a + Number(r.n), 0);
        const byReason = (outcome: string) =>
          Object.fromEntries(mine.filter((r) => r.outcome === outcome).map((r) => [r.reason, Number(r.n)]));
        const outcomes = reported.filter((r) => r.message_id === message.id);
        const howMany = (outcome: string) =>
          outcomes.filter((r) => r.outcome === outcome).reduce((a, r) => a + Number(r.n), 0);
        expect(answer.find((m) => m['message_id'] === message.id)).toEqual({
          message_id: message.id,
          channel: message.channel,
          triggered: sum(() => true),
          passed_filters: sum((r) => r.outcome !== 'filtered'),
          sent: sum((r) => r.outcome === 'sent'),
          delivered: howMany('delivered'),
          failed: howMany('failed'),
          failed_reasons: outcomes
            .filter((r) => r.outcome === 'failed')
            .map((r) => ({ reason: r.reason, failed: Number(r.n) })),
          cancelled: howMany('cancelled'),
          // No in-app message in this traffic: inapp-funnel.live.test.ts counts what people did.
          seen: 0,
          clicked: 0,
          dismissed: 0,
          suppressed: byReason('suppressed'),
          filtered: byReason('filtered'),
          users_reached: Number(reached.find((r) => r.message_id === message.id)?.users ?? 0),
        });
      }
    });

    it('the over-messaging histogram: (user, day) pairs by sends', async () => {
      const answer = await get(`/v1/stats/frequency?from=${T0}&to=${END}`);
      const expected = await clickhouseClient<{ sends: string; pairs: string }>(
        `SELECT sends, count() AS pairs FROM (SELECT user_id, toDate(toDateTime(intDiv(at, 1000))) AS d, count() AS sends
       FROM ${final()} WHERE ${within(T0, END)} AND outcome = 'sent' GROUP BY user_id, d) GROUP BY sends ORDER BY sends`,
      );
      expect(answer['histogram']).toEqual(
        expected.map((r) => ({ sends: Number(r.sends), user_days: Number(r.pairs) })),
      );
      // The global cap of 2 a day holds: no pair has more than the cap plus the exempt-free channels' sends.
      expect(expected.length).toBeGreaterThan(0);
    });

    it('deliveries by channel and outcome, with latency quantiles', async () => {
      const answer = await get(`/v1/stats/deliveries?from=${T0}&to=${END + DAY}`);
      const expected = await clickhouseClient<{ channel: string; outcome: string; n: string; q: number[] }>(
        `SELECT channel, outcome, count() AS n, quantilesExact(0.5, 0.9, 0.99)(latency_ms) AS q
       FROM ${api.ns.database}.delivery_outcomes FINAL WHERE at >= ${T0} AND at < ${END + DAY}
       GROUP BY channel, outcome ORDER BY channel, outcome`,
      );
      expect(answer['outcomes']).toEqual(
        expected.map((r) => ({
          channel: r.channel,
          outcome: r.outcome,
          deliveries: Number(r.n),
          latency_ms: { p50: Number(r.q[0]), p90: Number(r.q[1]), p99: Number(r.q[2]) },
        })),
      );
    });

    it('goal conversion, as a hand count over the generated log gives it', async () => {
      const answer = (await get(`/v1/stats/goals?from=${T0}&to=${END}`))['goals'];
      const goalTimes = new Map<string, number[]>();
      for (const entry of log)
        if (entry.type === 'track' && entry.name === 'upgraded')
          goalTimes.set(entry.user_id, [...(goalTimes.get(entry.user_id) ?? []), entry.received_at]);
      const mine = decisions.map((d) => d.decision).filter((d) => d.message_id === 'upload-ready');
      const users = new Map<string, { got: boolean; start: number }>();
      for (const d of mine) {
        const seen = users.get(d.user_id);
        const sent = d.outcome === 'sent';
        if (seen === undefined) users.set(d.user_id, { got: sent, start: d.at });
        else if (sent && !seen.got) users.set(d.user_id, { got: true, start: d.at });
      }
      const group = (got: boolean) => {
        const members = [...users].filter(([, u]) => u.got === got);
        const converted = members.filter(([user, u]) =>
          (goalTimes.get(user) ?? []).some((t) => t >= u.start && t <= u.start + DAY),
        ).length;
        return {
          users: members.length,
          converted,
          rate: members.length === 0 ? null : converted / members.length,
        };
      };
      expect(answer).toEqual([
        {
          message_id: 'upload-ready',
          goal: { event: 'upgraded', within: DAY },
          sent: group(true),
          not_sent: group(false),
        },
      ]);
    });

    it('answers 400 naming the problem for a bad range or too many points, 401 without a key', async () => {
      const bad = async (query: string) => {
        const response = await api.app.inject({
          method: 'GET',
          url: `/v1/stats/series?${query}`,
          headers: { authorization: `Bearer ${api.keys.read}` },
        });
        expect(response.statusCode).toBe(400);
        return (JSON.parse(response.body) as { error: { message: string } }).error.message;
      };
      expect(await bad('from=yesterday')).toMatch(/^querystring\.from: not an instant: "yesterday"/);
      expect(await bad('from=2026-10-05T10:00:00')).toMatch(/zone/);
      expect(await bad(`from=${END}&to=${T0}`)).toMatch(/from: must be before to/);
      expect(await bad(`from=0&to=${END}&bucket=minute`)).toMatch(
        /^bucket: \d+ minutes in the range, at most 10000/,
      );
      expect(await bad('by=user_id')).toMatch(/^querystring\.by:/);
      expect(await bad("message=x' OR 1=1 --")).toMatch(/^querystring\.message:/);
      expect((await api.app.inject({ method: 'GET', url: '/v1/stats/summary' })).statusCode).toBe(401);
    });

    it('takes ISO 8601 times and answers an empty range with zeros', async () => {
      const iso = await get('/v1/stats/summary?from=2026-10-05&to=2026-10-06T00:00:00Z');
      expect(iso).toMatchObject({ from: T0, to: T0 + DAY });
      const empty = await get('/v1/stats/summary?from=2020-01-01&to=2020-01-02');
      expect(empty).toMatchObject({ decisions: 0, sent: 0, users_reached: 0, reasons: {} });
    });
  },
);
