import { ident, sql } from './sql.ts';
import type { Message } from '../../core/message-schema.ts';
import type { FactsReader } from './facts-reader.ts';
import type {
  Bucket,
  FactsFilter,
  SeriesKey,
  StatsDeliveries,
  StatsFrequency,
  StatsGoals,
  StatsSeries,
  StatsSummary,
  TimeRange,
} from '../../ports/audit-reader.ts';
import { BUCKETS } from '../../ports/audit-reader.ts';
import { deliveryConditions } from './message-funnel.ts';

/** The column of `decision_facts` each split of a series reads (an allow-list: never input). */
const SERIES_COLUMNS: Record<SeriesKey, string> = {
  outcome: 'outcome',
  reason: 'reason',
  message: 'message_id',
  channel: 'channel',
};

type Count = string | number;
const n = (value: Count | undefined): number => Number(value ?? 0);

type Outcome = 'sent' | 'suppressed' | 'filtered';

/** Totals over a range: decisions by outcome and reason, users decided for and reached. */
export async function summary(
  reader: FactsReader,
  range: TimeRange,
  filter: FactsFilter,
): Promise<StatsSummary> {
  const [rows, [people]] = await reader.both<
    { outcome: Outcome; reason: string; decisions: Count },
    { reached: Count; decided: Count }
  >(
    range,
    filter,
    (facts) => sql`SELECT outcome, reason, count() AS decisions FROM ${facts} GROUP BY outcome, reason`,
    (facts) =>
      sql`SELECT uniqExactIf(user_key, outcome = 'sent') AS reached, uniqExact(user_key) AS decided FROM ${facts}`,
  );
  const outcomes = { sent: 0, suppressed: 0, filtered: 0 };
  const reasons: Record<string, number> = {};
  for (const row of rows) {
    outcomes[row.outcome] += n(row.decisions);
    if (row.reason !== '') reasons[row.reason] = (reasons[row.reason] ?? 0) + n(row.decisions);
  }
  return {
    ...range,
    decisions: outcomes.sent + outcomes.suppressed + outcomes.filtered,
    ...outcomes,
    reasons,
    users_decided: n(people?.decided),
    users_reached: n(people?.reached),
  };
}

/** Decisions per time bucket, split by one key. */
export async function series(
  reader: FactsReader,
  range: TimeRange,
  filter: FactsFilter,
  bucket: Bucket,
  by: SeriesKey,
): Promise<StatsSeries> {
  const width = BUCKETS[bucket];
  const rows = await reader.query<{ bucket_at: Count; key: string; decisions: Count }>(
    range,
    filter,
    (facts) =>
      sql`SELECT intDiv(at, ${width}) * ${width} AS bucket_at, ${ident(SERIES_COLUMNS[by])} AS key,
          count() AS decisions
        FROM ${facts} GROUP BY bucket_at, key ORDER BY bucket_at, toString(key)`,
  );
  return {
    ...range,
    bucket,
    by,
    points: rows.map((row) => ({ at: n(row.bucket_at), key: row.key, decisions: n(row.decisions) })),
  };
}

/**
 * The over-messaging histogram: how many (user, UTC day) pairs got 1, 2, 3… sends. Pairs are
 * grouped by one 64-bit hash of both, not the two columns: a third faster at ten million.
 */
export async function frequency(
  reader: FactsReader,
  range: TimeRange,
  filter: FactsFilter,
): Promise<StatsFrequency> {
  const rows = await reader.query<{ sends: Count; user_days: Count }>(
    range,
    filter,
    (facts) =>
      sql`SELECT sends, count() AS user_days FROM (
          SELECT count() AS sends FROM ${facts} WHERE outcome = 'sent' GROUP BY cityHash64(user_key, day)
        ) GROUP BY sends ORDER BY sends`,
  );
  return { ...range, histogram: rows.map((row) => ({ sends: n(row.sends), user_days: n(row.user_days) })) };
}

/** What senders reported for the sends of the range: delivered or failed, and latency from the entry. */
export async function deliveries(
  reader: FactsReader,
  database: string,
  range: TimeRange,
  filter: FactsFilter,
): Promise<StatsDeliveries> {
  // The outcomes are few (one per send a sender reported on): FINAL over them is cheap.
  const rows = await reader.run<{
    channel: string;
    outcome: string;
    deliveries: Count;
    latency: Count[];
  }>(
    sql`SELECT channel, outcome, count() AS deliveries, quantilesExact(0.5, 0.9, 0.99)(latency_ms) AS latency
      FROM ${ident(database)}.delivery_outcomes FINAL WHERE ${deliveryConditions(range, filter)}
      GROUP BY channel, outcome ORDER BY channel, outcome`,
  );
  return {
    ...range,
    outcomes: rows.map((row) => ({
      channel: row.channel,
      outcome: row.outcome,
      deliveries: n(row.deliveries),
      latency_ms: { p50: n(row.latency[0]), p90: n(row.latency[1]), p99: n(row.latency[2]) },
    })),
  };
}

/**
 * Goal conversion (DESIGN §3) for each message that names a goal: of the users who got the message
 * in the range, how many did the goal event within `within` of their first send; of the users it
 * triggered for but who never got it in the range, how many did within `within` of their first
 * triggering entry. Goal events are read from the log's audit up to `within` past the range.
 */
export async function goals(
  reader: FactsReader,
  database: string,
  range: TimeRange,
  withGoals: readonly Message[],
): Promise<StatsGoals> {
  const results = [];
  for (const message of withGoals) {
    const goal = message.goal;
    if (goal === undefined) continue;
    const rows = await reader.query<{ got: Count; users: Count; converted: Count }>(
      range,
      { message: message.id },
      (facts) =>
        // Joined row by row rather than with an array and a lambda: 18.16 loses a lambda's outer
        // columns across a JOIN ("Unknown identifier").
        sql`SELECT got, count() AS users, sum(converted) AS converted FROM (
            SELECT user_id, any(got) AS got, max(goal_at >= start AND goal_at <= start + ${goal.within}) AS converted
            FROM (
              SELECT user_id, max(outcome = 'sent') AS got, minIf(at, outcome = 'sent') AS first_sent,
                min(at) AS first_decided, if(got = 1, first_sent, first_decided) AS start
              FROM ${facts} GROUP BY user_id
            ) ALL LEFT JOIN (
              SELECT user_id, received_at AS goal_at FROM ${ident(database)}.log_entries
              WHERE type = 'track' AND name = ${goal.event}
                AND received_at >= ${range.from} AND received_at < ${range.to + goal.within}
            ) USING user_id
            GROUP BY user_id
          ) GROUP BY got`,
    );
    const of = (got: number) => {
      const row = rows.find((r) => n(r.got) === got);
      const users = n(row?.users);
      const converted = n(row?.converted);
      return { users, converted, rate: users === 0 ? null : converted / users };
    };
    results.push({
      message_id: message.id,
      goal: { event: goal.event, within: goal.within },
      sent: of(1),
      not_sent: of(0),
    });
  }
  return { ...range, goals: results };
}
