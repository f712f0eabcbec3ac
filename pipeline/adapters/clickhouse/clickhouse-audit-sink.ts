import type { ClickHouseClient } from '@clickhouse/client';
import { Readable } from 'node:stream';
import { finished } from 'node:stream/promises';
import type { AuditSink, PositionedEntry } from '../../ports/audit-sink.ts';
import type { DeadLetter } from '../../ports/dead-letters.ts';
import type { PositionedDecision } from '../../ports/decision-sink.ts';
import type { DeliveryOutcome } from '../../ports/delivery.ts';
import { decisionRow } from '../../ports/decision-row.ts';
import { logEntryRow } from './audit-rows.ts';
import { ident, sql } from './sql.ts';

/** The audit tables of `migrateAudit`, one insert per call (ReplacingMergeTree collapses repeats). */
export class ClickHouseAuditSink implements AuditSink {
  constructor(
    private readonly client: ClickHouseClient,
    private readonly database: string,
  ) {}

  async insertEntries(entries: readonly PositionedEntry[]): Promise<void> {
    if (entries.length === 0) return;
    const values = entries.map(({ entry, partition, seq, position }) =>
      logEntryRow(entry, { partition, seq }, position),
    );
    await this.client.insert({ table: `${this.database}.log_entries`, values, format: 'JSONEachRow' });
  }

  async insertOutcomes(outcomes: readonly DeliveryOutcome[]): Promise<void> {
    if (outcomes.length === 0) return;
    await this.client.insert({
      table: `${this.database}.delivery_outcomes`,
      values: outcomes,
      format: 'JSONEachRow',
    });
  }

  async insertDeadLetters(letters: readonly DeadLetter[]): Promise<void> {
    if (letters.length === 0) return;
    await this.client.insert({
      table: `${this.database}.dead_letters`,
      values: letters,
      format: 'JSONEachRow',
    });
  }

  async insertDecisions(decisions: readonly PositionedDecision[]): Promise<void> {
    if (decisions.length === 0) return;
    const values = decisions.map(({ decision, partition, seq, caps_version }) =>
      decisionRow(decision, { partition, seq }, caps_version),
    );
    await this.client.insert({ table: `${this.database}.decisions`, values, format: 'JSONEachRow' });
  }

  /**
   * Rows as the decisions stream carries them, one `JSONEachRow` line each, sent as they are in
   * one body: the client's `insert` would parse nothing but write every row again.
   */
  async insertDecisionRows(rows: readonly Uint8Array[]): Promise<void> {
    if (rows.length === 0) return;
    const { stream } = await this.client.exec({
      query: sql`INSERT INTO ${ident(this.database)}.decisions FORMAT JSONEachRow`.text,
      values: Readable.from([joinLines(rows)]),
    });
    stream.resume();
    await finished(stream);
  }
}

/**
 * Lines as one NDJSON body, each ended by a newline. The lines of one stream message are views
 * into its body, one newline apart: such a run is copied at once, not line by line.
 */
function joinLines(lines: readonly Uint8Array[]): Buffer {
  let size = 0;
  for (const line of lines) size += line.length + 1;
  const body = Buffer.allocUnsafe(size);
  let at = 0;
  let run: Uint8Array | undefined;
  const copyRun = () => {
    if (run === undefined) return;
    body.set(run, at);
    at += run.length;
    body[at++] = NEWLINE;
  };
  for (const line of lines) {
    if (run !== undefined && followsWithinBody(run, line)) {
      run = new Uint8Array(run.buffer, run.byteOffset, line.byteOffset + line.length - run.byteOffset);
      continue;
    }
    copyRun();
    run = line;
  }
  copyRun();
  return body;
}

const NEWLINE = 0x0a;

/** Whether `line` comes right after `run` in the same buffer, one newline between. */
function followsWithinBody(run: Uint8Array, line: Uint8Array): boolean {
  if (line.buffer !== run.buffer || line.byteOffset !== run.byteOffset + run.length + 1) return false;
  // The byte between, read through a view one byte before the line.
  return new Uint8Array(line.buffer, line.byteOffset - 1, 1)[0] === NEWLINE;
}
