import type { LogEntry } from '../core/log-entry.ts';

/** A metadata key seen on an event, with every JSON type it was seen with. */
export type ObservedKey = { readonly key: string; readonly types: readonly string[] };

/**
 * The metadata keys seen on each event name, for people composing messages. Contract: recording
 * the same entries again changes nothing; the usable keys (the first 20 of an entry, in the order
 * sent: `keysInSentOrder`) are kept in the order they were first seen.
 */
export type EventKeys = {
  record(entries: readonly LogEntry[]): Promise<void>;
  keys(name: string): Promise<ObservedKey[]>;
};
