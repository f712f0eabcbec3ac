import type { LogEntry } from '../core/log-entry.ts';

/**
 * A recorded log read in its order (a file's line order, or a partition's stream sequence).
 * Contract: yields every entry exactly once, in order, in batches of any size; yields only entries
 * valid against `LogEntrySchema`, and throws `InputError` naming where the first invalid one is.
 */
export type EntrySource = {
  batches(): AsyncIterable<readonly LogEntry[]>;
};
