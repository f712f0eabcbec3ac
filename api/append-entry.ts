import type { LogEntry } from '../pipeline/core/log-entry.ts';
import type { EntryLog } from '../pipeline/ports/entry-log.ts';
import { ApiError } from './errors.ts';
import { LIMITS } from './routes/ingest/ingest.schemas.ts';

/**
 * One entry Nudge writes itself (a `preferences` or `push_subscription` entry of a route) appended
 * to the log: resolved once the log stored it, or a 413 (larger than an entry may be) or a 503 (the
 * log did not store it: the request can be sent again as it is).
 */
export async function appendEntry(log: EntryLog, entry: LogEntry): Promise<void> {
  const bytes = Buffer.byteLength(JSON.stringify(entry));
  if (bytes > LIMITS.entryBytes)
    throw new ApiError(
      'entry_too_large',
      `the entry is ${bytes} bytes as JSON: at most ${LIMITS.entryBytes}`,
    );
  try {
    await log.append([entry]);
  } catch {
    // The service's own message stays in our logs: it names hosts.
    throw new ApiError(
      'log_unavailable',
      'the log (NATS JetStream) did not acknowledge the entry, so it is not stored: retry',
    );
  }
}
