import type { ClickHouseClient } from '@clickhouse/client';
import type { AuditSink, PositionedEntry } from '../../ports/audit-sink.ts';
import type { DeadLetter } from '../../ports/dead-letters.ts';
import type { PositionedDecision } from '../../ports/decision-sink.ts';
import type { DeliveryOutcome } from '../../ports/delivery.ts';
import { decisionRow, logEntryRow } from './audit-rows.ts';

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
}
