import type { ClickHouseClient } from '@clickhouse/client';
import { migrateFacts } from './facts-schema.ts';
import { ident, raw, sql } from './sql.ts';
import type { Sql } from './sql.ts';
import type { Column } from './column.ts';

const DAY = 'Date MATERIALIZED toDate(toDateTime(intDiv({time}, 1000)))';

/**
 * The audit tables (DESIGN §5, §6), in types the Debian package's ClickHouse 18.16 and current
 * releases both have: times are UInt64 ms, a materialized `day` partitions by month, JSON is kept
 * as String. All are ReplacingMergeTree on the row's identity, so a row written twice (a retry
 * after a crash) collapses: read with `FINAL` (or aggregate by the key) to never see it twice.
 */
export const AUDIT_TABLES = {
  log_entries: {
    // A row is a place in the log: an entry the log holds twice (a client's retry) keeps both places,
    // and only the same place written twice (a writer's retry) collapses.
    orderBy: ['user_id', 'received_at', 'entry_id', 'partition', 'seq', 'position'],
    columns: [
      { name: 'entry_id', type: 'String', doc: "the entry's id (the client's idempotency key)" },
      { name: 'type', type: 'String', doc: '"track" or "identify"' },
      { name: 'user_id', type: 'String', doc: '' },
      { name: 'name', type: 'String', doc: 'the event name ("" for identify)' },
      {
        name: 'received_at',
        type: 'UInt64',
        doc: 'ms since the epoch, stamped at ingestion: the time of its decisions',
      },
      {
        name: 'created_at',
        type: 'Nullable(UInt64)',
        doc: "the client's clock, if sent; never used to decide",
      },
      { name: 'partition', type: 'UInt32', doc: 'the log partition (hash of user_id)' },
      { name: 'seq', type: 'UInt64', doc: "the entry's position in its partition: decisions follow it" },
      {
        name: 'position',
        type: 'UInt32',
        doc: 'its place among the entries of its log message (0 first): the log order is (partition, seq, position)',
      },
      { name: 'metadata', type: 'String', doc: 'JSON object, as sent' },
      { name: 'context', type: 'String', doc: 'JSON object, as sent' },
      { name: 'attributes', type: 'String', doc: 'JSON object (identify), as sent' },
      {
        name: 'day',
        type: DAY.replace('{time}', 'received_at'),
        doc: 'UTC day of received_at (partitions by month)',
      },
    ],
  },
  decisions: {
    orderBy: ['user_id', 'at', 'decision_id'],
    columns: [
      {
        name: 'decision_id',
        type: 'String',
        doc: '<message_id>:<entry_id>, one per (entry, candidate message)',
      },
      { name: 'entry_id', type: 'String', doc: '' },
      { name: 'message_id', type: 'String', doc: '' },
      { name: 'message_version', type: 'UInt32', doc: 'the message version the decision used' },
      { name: 'user_id', type: 'String', doc: '' },
      { name: 'channel', type: 'String', doc: 'the message channel' },
      { name: 'at', type: 'UInt64', doc: "the entry's received_at, ms" },
      { name: 'outcome', type: 'String', doc: '"sent", "suppressed" or "filtered"' },
      {
        name: 'reason',
        type: 'Nullable(String)',
        doc: 'null when sent, else event_filter, audience, schedule, max_sends, min_interval, global_cap',
      },
      { name: 'subject', type: 'Nullable(String)', doc: 'rendered subject (sends only)' },
      { name: 'body', type: 'Nullable(String)', doc: 'rendered body (sends only)' },
      { name: 'explanation', type: 'String', doc: 'the explanation a person reads' },
      {
        name: 'explanation_data',
        type: 'String',
        doc: 'the same, structured (JSON): failed condition and actual value, or window and eligible_at',
      },
      { name: 'partition', type: 'UInt32', doc: "the entry's log partition" },
      { name: 'seq', type: 'UInt64', doc: "the entry's position in its partition" },
      {
        name: 'caps_version',
        type: 'UInt64',
        doc: 'the catalog sequence of the global caps the decision used (0: none)',
      },
      {
        name: 'deliver_at',
        type: 'Nullable(UInt64)',
        doc: 'a held send\'s delivery time, ms (`schedule.outside: "defer"`); null on every other decision',
      },
      { name: 'day', type: DAY.replace('{time}', 'at'), doc: 'UTC day of at (partitions by month)' },
    ],
  },
  replay_decisions: {
    orderBy: ['replay_id', 'user_id', 'at', 'decision_id'],
    columns: [
      { name: 'replay_id', type: 'String', doc: 'the replay (see `replays`)' },
      { name: 'decision_id', type: 'String', doc: 'as in `decisions`' },
      { name: 'entry_id', type: 'String', doc: '' },
      { name: 'message_id', type: 'String', doc: '' },
      { name: 'message_version', type: 'UInt32', doc: 'the version decided with (an override: its own)' },
      { name: 'user_id', type: 'String', doc: '' },
      { name: 'channel', type: 'String', doc: '' },
      { name: 'at', type: 'UInt64', doc: "the entry's received_at, ms" },
      { name: 'outcome', type: 'String', doc: '' },
      { name: 'reason', type: 'Nullable(String)', doc: '' },
      { name: 'subject', type: 'Nullable(String)', doc: '' },
      { name: 'body', type: 'Nullable(String)', doc: '' },
      { name: 'explanation', type: 'String', doc: '' },
      { name: 'explanation_data', type: 'String', doc: '' },
      { name: 'partition', type: 'UInt32', doc: '' },
      { name: 'seq', type: 'UInt64', doc: '' },
      { name: 'caps_version', type: 'UInt64', doc: '' },
      { name: 'deliver_at', type: 'Nullable(UInt64)', doc: 'as in `decisions`' },
      { name: 'day', type: DAY.replace('{time}', 'at'), doc: 'UTC day of at (partitions by month)' },
    ],
  },
  dead_letters: {
    orderBy: ['partition', 'seq', 'kind', 'index'],
    columns: [
      { name: 'partition', type: 'UInt32', doc: 'the log partition it was read from' },
      { name: 'seq', type: 'UInt64', doc: 'the stream sequence of its log message' },
      {
        name: 'kind',
        type: 'String',
        doc: '"malformed" (a line that is no entry) or "failed" (an entry the core threw on)',
      },
      {
        name: 'index',
        type: 'UInt32',
        doc: "malformed: the line's place among the message's lines; failed: the entry's `position`",
      },
      { name: 'at', type: 'UInt64', doc: "ms: the entry's received_at, or when the log stored the message" },
      { name: 'problem', type: 'String', doc: 'what is wrong, naming the line' },
      { name: 'line', type: 'String', doc: 'the line as stored (its first 64 Ki characters)' },
      { name: 'day', type: DAY.replace('{time}', 'at'), doc: 'UTC day of at (partitions by month)' },
    ],
  },
  delivery_outcomes: {
    orderBy: ['channel', 'decision_id'],
    columns: [
      { name: 'decision_id', type: 'String', doc: 'the send this is the outcome of' },
      { name: 'channel', type: 'String', doc: '' },
      {
        name: 'outcome',
        type: 'String',
        doc: '"delivered" or "failed", as the sender reports it; "cancelled" for a held send whose message was paused or stopped before it was due',
      },
      { name: 'attempts', type: 'UInt32', doc: 'tries it took' },
      { name: 'status', type: 'UInt16', doc: "the endpoint's last HTTP status (0: unreachable)" },
      {
        name: 'reason',
        type: 'String',
        doc: 'why it failed, as the channel said it, or why it was cancelled ("" when delivered, or written before this column)',
      },
      {
        name: 'latency_ms',
        type: 'UInt64',
        doc: "from the send (a held send's deliver_at, else the entry's received_at) to the outcome",
      },
      { name: 'at', type: 'UInt64', doc: 'when the outcome was reached, ms' },
      { name: 'day', type: DAY.replace('{time}', 'at'), doc: 'UTC day of at (partitions by month)' },
    ],
  },
  inapp_outcomes: {
    // The outcome is part of the identity: a send seen, then clicked, keeps both rows, and only the
    // same action reported twice (a page's retry, two tabs) collapses.
    orderBy: ['channel', 'decision_id', 'outcome'],
    columns: [
      { name: 'decision_id', type: 'String', doc: 'the send this is the outcome of' },
      {
        name: 'message_id',
        type: 'String',
        doc: 'the message sent (the funnel counts by it without reading `decisions`)',
      },
      { name: 'user_id', type: 'String', doc: '' },
      { name: 'channel', type: 'String', doc: 'the channel it was sent on (in-app, email or push)' },
      {
        name: 'outcome',
        type: 'String',
        doc: '"seen", "dismissed" or "clicked", as the page or the tracking link reports it',
      },
      {
        name: 'latency_ms',
        type: 'UInt64',
        doc: "from the send (a held send's deliver_at, else the entry's received_at) to the outcome",
      },
      { name: 'at', type: 'UInt64', doc: 'when it was reported, ms' },
      { name: 'day', type: DAY.replace('{time}', 'at'), doc: 'UTC day of at (partitions by month)' },
    ],
  },
} as const satisfies Record<string, { orderBy: readonly string[]; columns: readonly Column[] }>;

export type AuditTable = keyof typeof AUDIT_TABLES;

/**
 * Creates the database and tables, then adds any column a newer release defines that an older
 * table lacks. 18.16 has no `ADD COLUMN IF NOT EXISTS`, so the columns present are read from
 * `system.columns` first; then `decision_facts` (`migrateFacts`). Safe to run at every start-up
 * and from several processes. Column
 * lists and types are `raw` SQL: they come from the constant table above, never from input.
 */
export async function migrateAudit(client: ClickHouseClient, database: string): Promise<void> {
  await command(client, sql`CREATE DATABASE IF NOT EXISTS ${ident(database)}`);
  for (const [table, spec] of Object.entries(AUDIT_TABLES)) {
    const columns = spec.columns.map((c) => `${ident(c.name).text} ${c.type}`).join(', ');
    const order = spec.orderBy.map((name) => ident(name).text).join(', ');
    await command(
      client,
      sql`CREATE TABLE IF NOT EXISTS ${ident(database)}.${ident(table)} (${raw(columns)}) ENGINE = ReplacingMergeTree() PARTITION BY toYYYYMM(day) ORDER BY (${raw(order)})`,
    );
    const present = await existingColumns(client, database, table);
    for (const column of spec.columns) {
      if (present.has(column.name)) continue;
      await command(
        client,
        sql`ALTER TABLE ${ident(database)}.${ident(table)} ADD COLUMN ${ident(column.name)} ${raw(column.type)}`,
      );
    }
  }
  await migrateFacts(client, database);
}

async function existingColumns(
  client: ClickHouseClient,
  database: string,
  table: string,
): Promise<Set<string>> {
  const result = await client.query({
    query: sql`SELECT name FROM system.columns WHERE database = ${database} AND table = ${table}`.text,
    format: 'JSONEachRow',
  });
  return new Set((await result.json<{ name: string }>()).map((row) => row.name));
}

async function command(client: ClickHouseClient, statement: Sql): Promise<void> {
  await client.command({ query: statement.text });
}
