import type { LogEntry } from '../core/log-entry.ts';
import type { DeadLetter } from './dead-letters.ts';
import type { PositionedDecision } from './decision-sink.ts';
import type { DeliveryOutcome } from './delivery.ts';

/**
 * A log entry with where it sits in the log: its partition, the stream sequence of its log message,
 * and its place among that message's entries (0 first), so the log's order can be read back.
 */
export type PositionedEntry = {
  readonly entry: LogEntry;
  readonly partition: number;
  readonly seq: number;
  readonly position: number;
};

/**
 * Where every entry and every decision is kept for audit, analytics and replay (ClickHouse).
 * Contract: each call stores all or nothing and resolves once stored; storing the same entry or
 * decision again never makes it visible twice to queries.
 */
export type AuditSink = {
  insertEntries(entries: readonly PositionedEntry[]): Promise<void>;
  insertDecisions(decisions: readonly PositionedDecision[]): Promise<void>;
  /** Decisions as the decisions stream carries them: each its row (`decisionRow`) as one line of UTF-8 JSON. */
  insertDecisionRows(rows: readonly Uint8Array[]): Promise<void>;
  insertOutcomes(outcomes: readonly DeliveryOutcome[]): Promise<void>;
  insertDeadLetters(letters: readonly DeadLetter[]): Promise<void>;
};
