import type { ClickHouseClient } from '@clickhouse/client';
import { OUTCOMES, REASONS } from '../../core/decision.ts';
import type { Column } from './column.ts';
import { ident, raw, sql } from './sql.ts';

/** A column of `decision_facts`, with the expression over a `decisions` row that fills it. */
type FactColumn = Column & { readonly from: string };

const enumOf = (names: readonly string[]) =>
  `Enum8(${names.map((name, i) => `'${name}' = ${i}`).join(', ')})`;
/** Outcomes and reasons as one-byte enums: grouping by them is what analytics does most. */
const OUTCOME = enumOf(OUTCOMES);
const REASON = enumOf(['', ...REASONS]);

/**
 * `decision_facts`: one narrow row per decision, for analytics (`/v1/stats`). A materialized view
 * fills it from every insert into `decisions`, so it holds exactly what the audit holds. Sorted
 * by hour and message (the ranges and groups analysts ask for) where `decisions` is sorted by user
 * (what the audit of a user asks for), and partitioned by day, so that a day whose partition is
 * one merged part can be counted without `FINAL` (see `stats-partitions.ts`).
 */
export const DECISION_FACTS = {
  orderBy: ['hour', 'message_id', 'user_id', 'decision_id'],
  partitionBy: 'day',
  columns: [
    {
      name: 'day',
      type: 'Date',
      doc: 'UTC day of at (partitions by day)',
      from: 'toDate(toDateTime(intDiv(at, 1000)))',
    },
    {
      name: 'hour',
      type: 'UInt32',
      doc: 'hours since the epoch (UTC) of at',
      from: 'toUInt32(intDiv(at, 3600000))',
    },
    { name: 'at', type: 'UInt64', doc: "the entry's received_at, ms", from: 'at' },
    { name: 'user_id', type: 'String', doc: '', from: 'user_id' },
    {
      name: 'user_key',
      type: 'UInt64',
      doc: 'cityHash64(user_id): users are counted by it (uniqExact of a number is three times faster)',
      from: 'cityHash64(user_id)',
    },
    { name: 'message_id', type: 'String', doc: '', from: 'message_id' },
    { name: 'channel', type: 'String', doc: 'the message channel', from: 'channel' },
    {
      name: 'outcome',
      type: OUTCOME,
      doc: '"sent", "suppressed" or "filtered"',
      from: `CAST(outcome AS ${OUTCOME})`,
    },
    {
      name: 'reason',
      type: REASON,
      doc: '"" when sent, else the reason',
      from: `CAST(ifNull(reason, '') AS ${REASON})`,
    },
    { name: 'entry_id', type: 'String', doc: '', from: 'entry_id' },
    { name: 'decision_id', type: 'String', doc: '<message_id>:<entry_id>', from: 'decision_id' },
  ],
} satisfies { orderBy: readonly string[]; partitionBy: string; columns: readonly FactColumn[] };

const VIEW = 'decision_facts_from_decisions';

/**
 * Creates `decision_facts` and the view that fills it, and copies into it the decisions stored
 * before it existed (once, when the table is made; a decision inserted meanwhile may be copied
 * twice, and collapses like any repeat). Safe at every start-up. Types and expressions are `raw`
 * SQL from the constant above, never input.
 */
export async function migrateFacts(client: ClickHouseClient, database: string): Promise<void> {
  const db = ident(database);
  const existed = await tableExists(client, database, 'decision_facts');
  const columns = DECISION_FACTS.columns.map((c) => `${ident(c.name).text} ${c.type}`).join(', ');
  const order = DECISION_FACTS.orderBy.map((name) => ident(name).text).join(', ');
  await client.command({
    query:
      sql`CREATE TABLE IF NOT EXISTS ${db}.decision_facts (${raw(columns)}) ENGINE = ReplacingMergeTree() PARTITION BY ${ident(DECISION_FACTS.partitionBy)} ORDER BY (${raw(order)})`
        .text,
  });
  const select = raw(DECISION_FACTS.columns.map((c) => `${c.from} AS ${ident(c.name).text}`).join(', '));
  await client.command({
    query:
      sql`CREATE MATERIALIZED VIEW IF NOT EXISTS ${db}.${ident(VIEW)} TO ${db}.decision_facts AS SELECT ${select} FROM ${db}.decisions`
        .text,
  });
  if (!existed)
    await client.command({
      query: sql`INSERT INTO ${db}.decision_facts SELECT ${select} FROM ${db}.decisions`.text,
    });
}

async function tableExists(client: ClickHouseClient, database: string, table: string): Promise<boolean> {
  const result = await client.query({
    query: sql`SELECT count() AS n FROM system.tables WHERE database = ${database} AND name = ${table}`.text,
    format: 'JSONEachRow',
  });
  const [row] = await result.json<{ n: string }>();
  return row !== undefined && Number(row.n) > 0;
}
