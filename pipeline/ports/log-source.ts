import type { LogEntry } from '../core/log-entry.ts';

/** A line of a log message that breaks the entry contract: it is dead-lettered, never decided. */
export type MalformedLine = {
  /** Its place among the message's lines (0 first). */
  readonly index: number;
  readonly line: string;
  readonly problem: string;
};

/** One message of a partition's log: one or more entries, in order, at one stream sequence. */
export type LogMessage = {
  /** The message's position in the log stream; grows along a partition. */
  readonly seq: number;
  readonly entries: readonly LogEntry[];
  /** When the log stored the message, ms (0 when the log does not say). */
  readonly stored_at?: number;
  /** The message's lines that are no entries (none, mostly). */
  readonly malformed?: readonly MalformedLine[];
};

/**
 * A partition's log, read by its one owner from a position it keeps itself (the applied
 * sequence, committed with the states): nothing is acked, and after a crash the owner reads
 * again from its committed position. Contract: `read` returns, in sequence order and without
 * gaps, up to `max` messages of the partition with a sequence above `after`; it may wait a short
 * while for new ones and returns none when there are none.
 */
export type LogSource = {
  read(partition: number, after: number, max: number): Promise<readonly LogMessage[]>;
};
