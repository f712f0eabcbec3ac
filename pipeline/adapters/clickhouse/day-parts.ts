import type { ClickHouseClient } from '@clickhouse/client';
import { sql } from './sql.ts';

/** One day partition of a table: how many active parts it has and whether all come from merges. */
export type DayPartition = {
  /** `YYYY-MM-DD`. */
  readonly day: string;
  readonly parts: number;
  /** The lowest merge level among its parts: 0 for a part written by an insert and never merged. */
  readonly level: number;
  /** When its newest part was written, ms. */
  readonly modified_at: number;
  /** Its part names, in order: they change when anything is inserted or merged. */
  readonly names: readonly string[];
};

/**
 * A day partition of a ReplacingMergeTree is *clean* when it is one part made by a merge: merges
 * collapse rows with the same key, and ClickHouse writes an inserted block as it comes (repeats
 * and all), so only then does a plain read see every row once. Any other partition needs `FINAL`.
 */
export const isClean = (partition: DayPartition): boolean => partition.parts === 1 && partition.level > 0;

/** The day partitions of a table between two days, inclusive (all when no days are given). */
export async function dayPartitions(
  client: ClickHouseClient,
  database: string,
  table: string,
  days?: { readonly from: string; readonly to: string },
): Promise<DayPartition[]> {
  const range = days === undefined ? sql`1` : sql`partition >= ${days.from} AND partition <= ${days.to}`;
  const result = await client.query({
    query: sql`SELECT partition AS day, count() AS parts, min(level) AS level,
        toUInt64(max(modification_time)) * 1000 AS modified_at, arraySort(groupArray(name)) AS names
      FROM system.parts
      WHERE database = ${database} AND table = ${table} AND active AND ${range}
      GROUP BY partition ORDER BY partition`.text,
    format: 'JSONEachRow',
  });
  const rows = await result.json<{
    day: string;
    parts: string | number;
    level: string | number;
    modified_at: string | number;
    names: string[];
  }>();
  return rows.map((row) => ({
    day: row.day,
    parts: Number(row.parts),
    level: Number(row.level),
    modified_at: Number(row.modified_at),
    names: row.names,
  }));
}
