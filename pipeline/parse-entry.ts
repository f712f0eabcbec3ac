import type { LogEntry } from './core/log-entry.ts';
import { isWellFormedEntry, LogEntrySchema } from './core/log-entry.ts';
import { formatIssues, keysOf } from './core/validation.ts';
import { InputError, parseJson } from './errors.ts';

/**
 * One log entry from its JSON text, checked against the contract: the fast check first, zod for
 * the rest and for the exact problem. Shared by every adapter that reads entries (a log file, a
 * log message) so that they accept exactly the same entries. `where` is only built on error.
 */
export function parseEntry(line: string, where: () => string): LogEntry {
  const json = parseJson(line, where);
  if (isWellFormedEntry(json)) return json;
  const result = LogEntrySchema.safeParse(json);
  if (!result.success)
    throw new InputError(where(), formatIssues(result.error.issues, [], keysOf(LogEntrySchema)));
  return result.data;
}
