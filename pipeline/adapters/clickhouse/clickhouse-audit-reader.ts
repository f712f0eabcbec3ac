import type { ClickHouseClient } from '@clickhouse/client';
import type { Message } from '../../core/message-schema.ts';
import type { FlatObject } from '../../core/scalar.ts';
import { ServiceUnavailable } from '../../errors.ts';
import type {
  AuditedDecision,
  AuditReader,
  Bucket,
  DecisionQuery,
  FactsFilter,
  RecentEntry,
  SeenEvent,
  SeriesKey,
  TimeRange,
} from '../../ports/audit-reader.ts';
import { FactsReader } from './facts-reader.ts';
import type { Sql } from './sql.ts';
import { ident, raw, sql } from './sql.ts';
import { messages } from './message-funnel.ts';
import { deliveries, frequency, goals, series, summary } from './stats-queries.ts';

/**
 * The audit in ClickHouse, as the API reads it (every query the API makes is here): a user's
 * decisions from `decisions FINAL`, the event names from `log_entries`, and the stats over
 * `decision_facts` (`FactsReader`, "Analytics without FINAL" in the README), with what senders and
 * pages reported from `delivery_outcomes` and `inapp_outcomes`.
 */
export class ClickHouseAuditReader implements AuditReader {
  private readonly facts: FactsReader;

  constructor(
    private readonly client: ClickHouseClient,
    private readonly database: string,
  ) {
    this.facts = new FactsReader(client, database);
  }

  async decisions(userId: string, query: DecisionQuery): Promise<AuditedDecision[]> {
    const filters: Sql[] = [sql`user_id = ${userId}`];
    if (query.message !== undefined) filters.push(sql`message_id = ${query.message}`);
    if (query.outcome !== undefined) filters.push(sql`outcome = ${query.outcome}`);
    if (query.before !== undefined) {
      const { at, decision_id } = query.before;
      filters.push(sql`(at < ${at} OR (at = ${at} AND decision_id < ${decision_id}))`);
    }
    // Fragments of `sql` templates only: every value in them is a quoted literal already.
    const where = raw(filters.map((f) => f.text).join(' AND '));
    // UInt64 comes as a string in JSON.
    const rows = await this.rows<
      Omit<AuditedDecision, 'at' | 'deliver_at'> & { at: string; deliver_at: string | null }
    >(
      sql`SELECT decision_id, entry_id, message_id, message_version, channel, at, deliver_at, outcome, reason,
          subject, body, explanation, explanation_data
        FROM ${ident(this.database)}.decisions FINAL
        WHERE ${where} ORDER BY at DESC, decision_id DESC LIMIT ${query.limit}`,
      'the decisions audit (ClickHouse) did not answer; retry shortly',
    );
    return rows.map((row) => ({
      ...row,
      at: Number(row.at),
      deliver_at: row.deliver_at === null ? null : Number(row.deliver_at),
    }));
  }

  async events(limit: number): Promise<SeenEvent[]> {
    const rows = await this.rows<{ name: string; entries: string; last_seen: string }>(
      sql`SELECT name, uniqExact(entry_id) AS entries, max(received_at) AS last_seen
        FROM ${ident(this.database)}.log_entries WHERE type = 'track'
        GROUP BY name ORDER BY entries DESC, name LIMIT ${limit}`,
      'the audit (ClickHouse) did not answer; retry shortly',
    );
    return rows.map((row) => ({
      name: row.name,
      entries: Number(row.entries),
      last_seen: Number(row.last_seen),
    }));
  }

  async recentEntries(name: string, limit: number): Promise<RecentEntry[]> {
    // A place in the log is a row: an entry the log holds twice (a client's retry) is kept once, at
    // its latest place. Entries of one time are in log order, latest first (within a partition).
    const rows = await this.rows<{
      entry_id: string;
      user_id: string;
      received_at: string;
      metadata: string;
      context: string;
    }>(
      sql`SELECT entry_id, user_id, received_at, metadata, context
        FROM ${ident(this.database)}.log_entries WHERE type = 'track' AND name = ${name}
        ORDER BY received_at DESC, seq DESC, position DESC, user_id, entry_id
        LIMIT 1 BY user_id, entry_id LIMIT ${limit}`,
      'the audit (ClickHouse) did not answer; retry shortly',
    );
    return rows.map((row) => ({
      entry_id: row.entry_id,
      user_id: row.user_id,
      received_at: Number(row.received_at),
      metadata: JSON.parse(row.metadata) as FlatObject,
      context: JSON.parse(row.context) as FlatObject,
    }));
  }

  summary(range: TimeRange, filter: FactsFilter) {
    return summary(this.facts, range, filter);
  }

  series(range: TimeRange, filter: FactsFilter, bucket: Bucket, by: SeriesKey) {
    return series(this.facts, range, filter, bucket, by);
  }

  messages(range: TimeRange, filter: FactsFilter) {
    return messages(this.facts, this.database, range, filter);
  }

  frequency(range: TimeRange, filter: FactsFilter) {
    return frequency(this.facts, range, filter);
  }

  deliveries(range: TimeRange, filter: FactsFilter) {
    return deliveries(this.facts, this.database, range, filter);
  }

  goals(range: TimeRange, withGoals: readonly Message[]) {
    return goals(this.facts, this.database, range, withGoals);
  }

  /** The rows of a query; ClickHouse not answering (or its tables not made yet) is `ServiceUnavailable`. */
  private async rows<T>(query: Sql, unavailable: string): Promise<T[]> {
    try {
      return await (await this.client.query({ query: query.text, format: 'JSONEachRow' })).json<T>();
    } catch (error) {
      // The service's own message stays out of the answer: it names databases and hosts.
      throw new ServiceUnavailable('audit', unavailable, { cause: error });
    }
  }
}
