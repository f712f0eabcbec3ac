import type { Sql } from './sql.ts';
import { ident, raw, sql } from './sql.ts';
import type { Message } from '../../core/message-schema.ts';
import type { FactsReader } from './facts-reader.ts';
import type {
  Bucket,
  FactsFilter,
  SeriesKey,
  StatsDeliveries,
  StatsFrequency,
  StatsGoals,
  StatsMessages,
  StatsSeries,
  StatsSummary,
  TimeRange,
} from '../../ports/audit-reader.ts';
import { BUCKETS } from '../../ports/audit-reader.ts';

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

/** What people did with a message's in-app sends; all 0 for a message of another channel. */
type InAppCounts = { seen: number; clicked: number; dismissed: number };
const NO_OUTCOMES: InAppCounts = { seen: 0, clicked: 0, dismissed: 0 };

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
 * Per message: the funnel (entries that triggered it, passed its filters, sent, and for in-app
 * channels what people did with the sends), reasons, users reached.
 */
export async function messages(
  reader: FactsReader,
  database: string,
  range: TimeRange,
  filter: FactsFilter,
): Promise<StatsMessages> {
  const [rows, reached] = await reader.both<
    { message_id: string; channel: string; outcome: Outcome; reason: string; decisions: Count },
    { message_id: string; users: Count }
  >(
    range,
    filter,
    (facts) =>
      sql`SELECT message_id, any(channel) AS channel, outcome, reason, count() AS decisions
        FROM ${facts} GROUP BY message_id, outcome, reason ORDER BY message_id`,
    (facts) =>
      sql`SELECT message_id, uniqExact(user_key) AS users FROM ${facts} WHERE outcome = 'sent' GROUP BY message_id`,
  );
  // Asked only when there is a message to attach them to: a range (or a store not yet migrated)
  // with no decision answers an empty funnel without reading a table that may not exist.
  const outcomes =
    rows.length === 0 ? new Map<string, InAppCounts>() : await inAppOutcomes(reader, database, range, filter);
  const users = new Map(reached.map((row) => [row.message_id, n(row.users)]));
  const byMessage = new Map<string, StatsMessages['messages'][number]>();
  for (const row of rows) {
    let stats = byMessage.get(row.message_id);
    if (stats === undefined) {
      stats = {
        message_id: row.message_id,
        channel: row.channel,
        triggered: 0,
        passed_filters: 0,
        sent: 0,
        ...(outcomes.get(row.message_id) ?? NO_OUTCOMES),
        suppressed: {},
        filtered: {},
        users_reached: users.get(row.message_id) ?? 0,
      };
      byMessage.set(row.message_id, stats);
    }
    const count = n(row.decisions);
    stats.triggered += count;
    if (row.outcome !== 'filtered') stats.passed_filters += count;
    if (row.outcome === 'sent') stats.sent += count;
    else stats[row.outcome][row.reason] = (stats[row.outcome][row.reason] ?? 0) + count;
  }
  return { ...range, messages: [...byMessage.values()] };
}

/**
 * Seen, clicked and dismissed per message, by when the page reported them (in the range). One row
 * per (send, action) through `FINAL`: a page that reports an action twice counts it once. The
 * outcomes are few (at most three per in-app send), so FINAL over them is cheap.
 */
async function inAppOutcomes(
  reader: FactsReader,
  database: string,
  range: TimeRange,
  filter: FactsFilter,
): Promise<Map<string, InAppCounts>> {
  const where: Sql[] = [sql`at >= ${range.from} AND at < ${range.to}`];
  if (filter.message !== undefined) where.push(sql`message_id = ${filter.message}`);
  if (filter.channel !== undefined) where.push(sql`channel = ${filter.channel}`);
  const rows = await reader.run<{ message_id: string; seen: Count; clicked: Count; dismissed: Count }>(
    sql`SELECT message_id, countIf(outcome = 'seen') AS seen, countIf(outcome = 'clicked') AS clicked,
        countIf(outcome = 'dismissed') AS dismissed
      FROM ${ident(database)}.inapp_outcomes FINAL WHERE ${raw(where.map((w) => w.text).join(' AND '))}
      GROUP BY message_id`,
  );
  return new Map(
    rows.map((row) => [
      row.message_id,
      { seen: n(row.seen), clicked: n(row.clicked), dismissed: n(row.dismissed) },
    ]),
  );
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
  const where: Sql[] = [sql`at >= ${range.from} AND at < ${range.to}`];
  if (filter.channel !== undefined) where.push(sql`channel = ${filter.channel}`);
  if (filter.message !== undefined) {
    // A decision id is `<message_id>:<entry_id>`, and message ids are ASCII without ":" (18.16 has no startsWith).
    const prefix = `${filter.message}:`;
    where.push(sql`substring(decision_id, 1, ${prefix.length}) = ${prefix}`);
  }
  // The outcomes are few (one per send a sender reported on): FINAL over them is cheap.
  const rows = await reader.run<{
    channel: string;
    outcome: string;
    deliveries: Count;
    latency: Count[];
  }>(
    sql`SELECT channel, outcome, count() AS deliveries, quantilesExact(0.5, 0.9, 0.99)(latency_ms) AS latency
      FROM ${ident(database)}.delivery_outcomes FINAL WHERE ${raw(where.map((w) => w.text).join(' AND '))}
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
