import { TEST_SEND_PREFIX } from '../../ports/delivery.ts';
import type { Sql } from './sql.ts';
import { ident, raw, sql } from './sql.ts';
import type { FactsReader } from './facts-reader.ts';
import type { FactsFilter, StatsMessages, TimeRange } from '../../ports/audit-reader.ts';
import { TOP_FAILURE_REASONS } from '../../ports/audit-reader.ts';

type Count = string | number;
const n = (value: Count | undefined): number => Number(value ?? 0);

type Outcome = 'sent' | 'suppressed' | 'filtered';
type FunnelRow = StatsMessages['messages'][number];

/** What people did with a message's sends: in-app channels report all three, email opens (`seen`), push `seen` and `clicked`. */
type InAppCounts = Pick<FunnelRow, 'seen' | 'clicked' | 'dismissed'>;
const NO_INAPP: InAppCounts = { seen: 0, clicked: 0, dismissed: 0 };

/** What its sender reported of a message's sends; all 0 where no sender runs. */
type DeliveryCounts = Pick<FunnelRow, 'delivered' | 'failed' | 'failed_reasons' | 'cancelled'>;
const noDeliveries = (): DeliveryCounts => ({ delivered: 0, failed: 0, failed_reasons: [], cancelled: 0 });

/**
 * Per message (with its channel), the funnel: entries that triggered it, passed its filters, sent;
 * what its sender reported (delivered, failed and the commonest reasons why); what people did with
 * the sends (in-app channels as pages report it, email opens and push notifications shown and
 * clicked as their tracking links do); the suppressions and filters by reason; users reached. The
 * decisions are those of the range; the outcomes those reported in it (a send near an edge of the
 * range may have its outcome on the other side), for the messages decided in it. Rows are by
 * message alone, as a message has one channel: grouping the decisions by channel too cost a third
 * more at ten million (a message whose channel changed between versions shows one of them).
 */
export async function messages(
  reader: FactsReader,
  database: string,
  range: TimeRange,
  filter: FactsFilter,
): Promise<StatsMessages> {
  // What senders and pages reported is asked beside the decisions, not after them. A range (or a
  // store not yet migrated) with no decision answers an empty funnel whatever these answered:
  // tables not yet made are no failure then.
  const reported = Promise.all([
    inAppOutcomes(reader, database, range, filter),
    deliveryOutcomes(reader, database, range, filter),
  ]);
  reported.catch(() => undefined);
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
  if (rows.length === 0) return { ...range, messages: [] };
  const [inApp, deliveries] = await reported;
  const users = new Map(reached.map((row) => [row.message_id, n(row.users)]));
  const byMessage = new Map<string, FunnelRow>();
  for (const row of rows) {
    let stats = byMessage.get(row.message_id);
    if (stats === undefined) {
      stats = {
        message_id: row.message_id,
        channel: row.channel,
        triggered: 0,
        passed_filters: 0,
        sent: 0,
        ...(deliveries.get(row.message_id) ?? noDeliveries()),
        ...(inApp.get(row.message_id) ?? NO_INAPP),
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
 * Seen, clicked and dismissed per message, by when they were reported (in the range): by pages for
 * in-app sends, by tracking links for email (an open is `seen`) and push (`seen`, `clicked`). One
 * row per (send, action) through `FINAL`: an action reported twice (a page's retry, a mail opened
 * again) counts once. The outcomes are few (at most three per send), so FINAL over them is cheap.
 */
async function inAppOutcomes(
  reader: FactsReader,
  database: string,
  range: TimeRange,
  filter: FactsFilter,
): Promise<Map<string, InAppCounts>> {
  const where: Sql[] = [sql`at >= ${range.from} AND at < ${range.to}`, NOT_A_TEST_SEND];
  if (filter.message !== undefined) where.push(sql`message_id = ${filter.message}`);
  if (filter.channel !== undefined) where.push(sql`channel = ${filter.channel}`);
  const rows = await reader.run<{ message_id: string; seen: Count; clicked: Count; dismissed: Count }>(
    sql`SELECT message_id, countIf(outcome = 'seen') AS seen, countIf(outcome = 'clicked') AS clicked,
        countIf(outcome = 'dismissed') AS dismissed
      FROM ${ident(database)}.inapp_outcomes FINAL WHERE ${all(where)}
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
 * Delivered, failed and cancelled (held sends whose message was paused or stopped before they
 * were due) per message, by when the outcome was reached (in the range), with
 * the `TOP_FAILURE_REASONS` commonest reasons of the failures (most first, then by reason), in one
 * pass over the outcomes. Each send's outcome is read through `FINAL` before it is counted, so a
 * send recorded twice (a sender that crashed before its ack) counts once, as its last outcome.
 */
async function deliveryOutcomes(
  reader: FactsReader,
  database: string,
  range: TimeRange,
  filter: FactsFilter,
): Promise<Map<string, DeliveryCounts>> {
  const rows = await reader.run<{
    message_id: string;
    delivered: Count;
    failed: Count;
    reasons: [string, Count][];
    cancelled: Count;
  }>(
    // A decision id is `<message_id>:<entry_id>`, and message ids hold no ":".
    sql`SELECT message_id, sumIf(n, outcome = 'delivered') AS delivered, sumIf(n, outcome = 'failed') AS failed,
        arraySlice(arraySort(r -> (-r.2, r.1), groupArrayIf((reason, n), outcome = 'failed')), 1, ${TOP_FAILURE_REASONS}) AS reasons,
        sumIf(n, outcome = 'cancelled') AS cancelled
      FROM (
        SELECT splitByChar(':', decision_id)[1] AS message_id, outcome, reason, count() AS n
        FROM (SELECT decision_id, outcome, reason FROM ${ident(database)}.delivery_outcomes FINAL
          WHERE ${deliveryConditions(range, filter)})
        GROUP BY message_id, outcome, reason
      ) GROUP BY message_id`,
  );
  return new Map(
    rows.map((row) => [
      row.message_id,
      {
        delivered: n(row.delivered),
        failed: n(row.failed),
        failed_reasons: row.reasons.map(([reason, failed]) => ({ reason, failed: n(failed) })),
        cancelled: n(row.cancelled),
      },
    ]),
  );
}

/**
 * A test send's outcomes (`POST /v1/messages/test-send`: decision id `test/<message id>/<uuid>`, a
 * "/" no message id holds) are a person's check, not traffic: the stats leave them out.
 */
const NOT_A_TEST_SEND = sql`substring(decision_id, 1, ${TEST_SEND_PREFIX.length}) != ${TEST_SEND_PREFIX}`;

/** The rows of `delivery_outcomes` a stats question asks about: reached in the range, of its message and channel. */
export function deliveryConditions(range: TimeRange, filter: FactsFilter): Sql {
  const where: Sql[] = [sql`at >= ${range.from} AND at < ${range.to}`, NOT_A_TEST_SEND];
  if (filter.channel !== undefined) where.push(sql`channel = ${filter.channel}`);
  if (filter.message !== undefined) {
    // A decision id is `<message_id>:<entry_id>`, and message ids are ASCII without ":" (18.16 has no startsWith).
    const prefix = `${filter.message}:`;
    where.push(sql`substring(decision_id, 1, ${prefix.length}) = ${prefix}`);
  }
  return all(where);
}

/** Conditions joined with AND: fragments of `sql` templates only, whose values are quoted literals already. */
const all = (conditions: readonly Sql[]): Sql => raw(conditions.map((c) => c.text).join(' AND '));
