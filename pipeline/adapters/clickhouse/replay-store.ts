import type { ClickHouseClient } from '@clickhouse/client';
import type { PositionedDecision } from '../../ports/decision-sink.ts';
import type { ReplayRecord, ReplayStore } from '../../ports/replay-store.ts';
import { decisionRow } from '../../ports/decision-row.ts';
import { ident, sql } from './sql.ts';

type Row = Omit<
  ReplayRecord,
  'params' | 'report' | 'error' | 'entries_done' | 'entries_total' | 'created_at' | 'updated_at'
> & {
  params: string;
  report: string;
  error: string;
  entries_done: string;
  entries_total: string;
  created_at: string;
  updated_at: string;
};

/**
 * Replays and their decisions in ClickHouse (issue #5): `replays` holds one row a replay, written
 * again at each step (ReplacingMergeTree on `updated_at`: the newest is the one read), and
 * `replay_decisions` the decisions under the replay's id, so they can be queried like the live
 * ones. The clock is the caller's: it is a record of when things happened, never an input.
 */
export class ClickHouseReplayStore implements ReplayStore {
  private lastVersion = 0;

  constructor(
    private readonly client: ClickHouseClient,
    private readonly database: string,
    private readonly now: () => number,
  ) {}

  async migrate(): Promise<void> {
    await this.client.command({
      query: sql`CREATE TABLE IF NOT EXISTS ${ident(this.database)}.replays (replay_id String, kind String,
          params String, status String, entries_done UInt64, entries_total UInt64, report String, error String,
          created_at UInt64, updated_at UInt64)
        ENGINE = ReplacingMergeTree(updated_at) ORDER BY replay_id`.text,
    });
  }

  async save(record: Omit<ReplayRecord, 'updated_at'>): Promise<void> {
    await this.client.insert({
      table: `${this.database}.replays`,
      values: [
        {
          ...record,
          params: JSON.stringify(record.params),
          report: JSON.stringify(record.report ?? null),
          error: record.error ?? '',
          updated_at: this.nextVersion(record.created_at),
        },
      ],
      format: 'JSONEachRow',
    });
  }

  /**
   * The row's version: its time, but always after the last one saved here, so that the record a
   * replay saves when done is read over the one it saved a moment (or the same millisecond) before.
   */
  private nextVersion(createdAt: number): number {
    this.lastVersion = Math.max(this.now(), createdAt, this.lastVersion + 1);
    return this.lastVersion;
  }

  async get(replayId: string): Promise<ReplayRecord | undefined> {
    const result = await this.client.query({
      query: sql`SELECT * FROM ${ident(this.database)}.replays FINAL WHERE replay_id = ${replayId}`.text,
      format: 'JSONEachRow',
    });
    const [row] = await result.json<Row>();
    if (row === undefined) return undefined;
    return {
      ...row,
      params: JSON.parse(row.params) as unknown,
      report: JSON.parse(row.report) as unknown,
      error: row.error === '' ? null : row.error,
      entries_done: Number(row.entries_done),
      entries_total: Number(row.entries_total),
      created_at: Number(row.created_at),
      updated_at: Number(row.updated_at),
    };
  }

  async insertDecisions(replayId: string, decisions: readonly PositionedDecision[]): Promise<void> {
    if (decisions.length === 0) return;
    const values = decisions.map(({ decision, partition, seq, caps_version }) => ({
      replay_id: replayId,
      ...decisionRow(decision, { partition, seq }, caps_version),
    }));
    await this.client.insert({ table: `${this.database}.replay_decisions`, values, format: 'JSONEachRow' });
  }
}
