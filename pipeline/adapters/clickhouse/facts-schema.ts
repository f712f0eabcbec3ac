import { createHash } from 'node:crypto';
import type { ClickHouseClient } from '@clickhouse/client';
import { OUTCOMES } from '../../core/decision.ts';
import type { Reason } from '../../core/decision.ts';
import type { Column } from './column.ts';
import { ident, raw, sql } from './sql.ts';

/** A column of `decision_facts`, with the expression over a `decisions` row that fills it. */
type FactColumn = Column & { readonly from: string };

const enumOf = (names: readonly string[]) =>
  `Enum8(${names.map((name, i) => `'${name}' = ${i}`).join(', ')})`;

/**
 * Every reason's number in the `reason` enum, "" (a send) 0. ClickHouse stores an enum's numbers,
 * and altering the type keeps the numbers, not the names: a reason's number never changes, and a
 * new reason is added at the end (not in the order the checks run), so a table an older release
 * made is widened in place. A test holds this list and the core's `REASONS` to the same names.
 */
export const REASON_CODES = [
  '',
  'event_filter',
  'audience',
  'schedule',
  'max_sends',
  'min_interval',
  'global_cap',
  'unsubscribed',
  'unreachable',
] as const satisfies readonly ('' | Reason)[];

/** Outcomes and reasons as one-byte enums: grouping by them is what analytics does most. */
const OUTCOME = enumOf(OUTCOMES);
const REASON = enumOf(REASON_CODES);

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

/** The view's name: this prefix and a digest of its SELECT, so a release that changes it makes a new one. */
const VIEW = 'decision_facts_from_decisions';

/**
 * Creates `decision_facts` and the view that fills it, and copies into it the decisions stored
 * before it existed (once, when the table is made; a decision inserted meanwhile may be copied
 * twice, and collapses like any repeat). A table an older release made with fewer reasons is
 * widened in place (`REASON_CODES`), or, if its numbers differ, made again from `decisions`; a
 * view whose SELECT differs (18.16 converts nothing a view writes, so the enum's type is in it) is
 * replaced by a new one, made before the old one is dropped so that no insert is missed. Safe at
 * every start-up. Types and expressions are `raw` SQL from the constant above, never input.
 */
export async function migrateFacts(client: ClickHouseClient, database: string): Promise<void> {
  const db = ident(database);
  let existed = await tableExists(client, database, 'decision_facts');
  if (existed) existed = await widenReasons(client, database);
  const columns = DECISION_FACTS.columns.map((c) => `${ident(c.name).text} ${c.type}`).join(', ');
  const order = DECISION_FACTS.orderBy.map((name) => ident(name).text).join(', ');
  await client.command({
    query:
      sql`CREATE TABLE IF NOT EXISTS ${db}.decision_facts (${raw(columns)}) ENGINE = ReplacingMergeTree() PARTITION BY ${ident(DECISION_FACTS.partitionBy)} ORDER BY (${raw(order)})`
        .text,
  });
  const select = raw(DECISION_FACTS.columns.map((c) => `${c.from} AS ${ident(c.name).text}`).join(', '));
  const view = `${VIEW}_${createHash('sha256').update(select.text).digest('hex').slice(0, 12)}`;
  await client.command({
    query:
      sql`CREATE MATERIALIZED VIEW IF NOT EXISTS ${db}.${ident(view)} TO ${db}.decision_facts AS SELECT ${select} FROM ${db}.decisions`
        .text,
  });
  for (const old of await factViews(client, database))
    if (old !== view) await client.command({ query: sql`DROP TABLE IF EXISTS ${db}.${ident(old)}`.text });
  if (!existed)
    await client.command({
      query: sql`INSERT INTO ${db}.decision_facts SELECT ${select} FROM ${db}.decisions`.text,
    });
}

/**
 * Brings an existing table's `reason` enum to `REASON`: widened in place when every value it has
 * keeps its number, else (a table made while the numbers were not yet fixed) dropped, with its
 * views, to be made again and filled from `decisions`. Whether the table is still there.
 */
async function widenReasons(client: ClickHouseClient, database: string): Promise<boolean> {
  const result = await client.query({
    query:
      sql`SELECT type FROM system.columns WHERE database = ${database} AND table = 'decision_facts' AND name = 'reason'`
        .text,
    format: 'JSONEachRow',
  });
  const [column] = await result.json<{ type: string }>();
  if (column === undefined || column.type === REASON) return true;
  const db = ident(database);
  const kept = [...column.type.matchAll(/'((?:[^'\\]|\\.)*)' = (-?\d+)/g)].every(
    ([, name, code]) => (REASON_CODES as readonly string[]).indexOf(name ?? '') === Number(code),
  );
  if (kept) {
    await client.command({
      query: sql`ALTER TABLE ${db}.decision_facts MODIFY COLUMN reason ${raw(REASON)}`.text,
    });
    return true;
  }
  for (const view of await factViews(client, database))
    await client.command({ query: sql`DROP TABLE IF EXISTS ${db}.${ident(view)}`.text });
  await client.command({ query: sql`DROP TABLE IF EXISTS ${db}.decision_facts`.text });
  return false;
}

/** The views that fill `decision_facts`, whichever release made them. */
async function factViews(client: ClickHouseClient, database: string): Promise<string[]> {
  const result = await client.query({
    query:
      sql`SELECT name FROM system.tables WHERE database = ${database} AND engine = 'MaterializedView' AND substring(name, 1, ${VIEW.length}) = ${VIEW}`
        .text,
    format: 'JSONEachRow',
  });
  return (await result.json<{ name: string }>()).map((row) => row.name);
}

async function tableExists(client: ClickHouseClient, database: string, table: string): Promise<boolean> {
  const result = await client.query({
    query: sql`SELECT count() AS n FROM system.tables WHERE database = ${database} AND name = ${table}`.text,
    format: 'JSONEachRow',
  });
  const [row] = await result.json<{ n: string }>();
  return row !== undefined && Number(row.n) > 0;
}
