import type { LogEntry } from './core/log-entry.ts';
import { isWellFormedEntry, LogEntrySchema, needsSentOrder } from './core/log-entry.ts';
import { formatIssues, keysOf } from './core/validation.ts';
import { InputError, parseJson } from './errors.ts';
import { orderFromText } from './json-in-sent-order.ts';

/**
 * One log entry from its JSON text, checked against the contract: the fast check first, zod for
 * the rest and for the exact problem. Shared by every adapter that reads entries (a log file, a
 * log message) so that they accept exactly the same entries. `where` is only built on error.
 */
export function parseEntry(line: string, where: () => string): LogEntry {
  const json = parseJson(line, where);
  if (isWellFormedEntry(json)) return withMetadataInSentOrder(json, line);
  const result = LogEntrySchema.safeParse(json);
  if (!result.success)
    throw new InputError(where(), formatIssues(result.error.issues, [], keysOf(LogEntrySchema)));
  return withMetadataInSentOrder(result.data, line);
}

/**
 * `entry`, read from `line`, with its metadata carrying the order its keys were sent in when
 * JavaScript may have moved the usable ones (`needsSentOrder`: more than 20 keys, one integer-like):
 * only then is the line read again. Every reader of a log line or of a file of entries passes here.
 */
export function withMetadataInSentOrder<E extends LogEntry>(entry: E, line: string): E {
  const read: LogEntry = entry;
  if (read.type === 'track' && needsSentOrder(read.metadata))
    orderFromText(read.metadata, line, ['metadata']);
  return entry;
}
