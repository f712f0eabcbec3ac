import type { LogEntry } from '../core/log-entry.ts';

/** What the log answered for an entry: stored now, or a repeat of one it stored lately. */
export type EntryOutcome = 'stored' | 'duplicate';

/**
 * How long the log recognises a repeated publish (JetStream's duplicate window), ms: a retry within
 * it stores nothing twice, and the API remembers the ids it stored for as long.
 */
export const DUPLICATE_WINDOW_MS = 2 * 60_000;

/**
 * The log ingestion appends to (DESIGN §2). Contract: the promise resolves only once every entry
 * is durably in the log (acknowledged), with an outcome per entry in order; it rejects when any
 * could not be stored, and then none is claimed stored.
 */
export type EntryLog = {
  append(entries: readonly LogEntry[]): Promise<EntryOutcome[]>;
};
