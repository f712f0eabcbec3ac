import type { LogEntry } from '../core/log-entry.ts';

/** An attribute key seen set on users by `identify` entries. */
export type ObservedAttribute = {
  readonly key: string;
  /** The JSON types of the values it was set to, sorted (`boolean`, `number`, `string`). */
  readonly types: readonly string[];
  /** Distinct users it was set on, approximate (within about 1%), removals not subtracted. */
  readonly users: number;
  /** ms since the epoch: the latest `received_at` of an entry that set it. */
  readonly last_seen: number;
};

/** Distinct attribute keys a catalog keeps: a key first seen once this many are kept is not recorded. */
export const ATTRIBUTE_KEYS_KEPT = 1_000;

/**
 * The user attribute keys `identify` entries set, for people composing messages (issue #19: the
 * audience and the `{…}` placeholders offer the attributes actually seen). Contract: only keys and
 * the JSON types of their values are kept, never a value (attributes hold personal data: emails,
 * phone numbers); a key set to `null` is an attribute removed, not seen. Recording the same entries
 * again changes nothing; at most `ATTRIBUTE_KEYS_KEPT` keys are kept, and the keys kept go on being
 * updated. `attributes` lists the most widespread first (users descending, then key).
 */
export type AttributeKeys = {
  record(entries: readonly LogEntry[]): Promise<void>;
  attributes(limit: number): Promise<ObservedAttribute[]>;
};
