import { randomUUID } from 'node:crypto';
import { basename } from 'node:path';
import { parseArgs } from 'node:util';
import { ndjsonLines } from '../pipeline/adapters/file/ndjson-lines.ts';
import { ensureLogStream, LogPublisher } from '../pipeline/adapters/nats/log-stream.ts';
import { loadConfig, namespaceOf } from '../pipeline/config/load-config.ts';
import type { LogEntry } from '../pipeline/core/log-entry.ts';
import {
  IngestEntrySchema,
  isWellFormedIngestEntry,
  LogEntrySchema,
  stampEntry,
} from '../pipeline/core/log-entry.ts';
import { formatIssues, keysOf } from '../pipeline/core/validation.ts';
import { InputError, parseJson } from '../pipeline/errors.ts';
import { withMetadataInSentOrder } from '../pipeline/parse-entry.ts';
import { UsageError } from './usage-error.ts';
import { connectNats } from '../pipeline/adapters/nats/connect-nats.ts';

/**
 * `nudge ingest --file <ndjson> [--keep-time]`: publishes a file of entries to the log. Each
 * chunk of the file is checked before any of it is published; a bad line stops the ingest,
 * naming the line, after the entries before it (which were acknowledged) and before any after.
 */
export async function ingestCommand(args: string[]): Promise<void> {
  const { file, keepTime } = parseIngestArgs(args);
  const config = loadConfig(process.env);
  const ns = namespaceOf(config);
  const nc = await connectNats(config.natsUrl, 'nudge ingest');
  try {
    await ensureLogStream(await nc.jetstreamManager(), ns, config.partitions);
    const publisher = new LogPublisher(nc.jetstream(), ns, config.partitions);
    const progress = new Progress();
    for await (const { firstLineNumber, lines } of ndjsonLines(file)) {
      const receivedAt = Date.now();
      const entries = lines.flatMap((line, i) =>
        line.trim() === ''
          ? []
          : [entryOfLine(line, `${basename(file)}:${firstLineNumber + i}`, keepTime, receivedAt)],
      );
      await publisher.publish(entries);
      progress.add(entries.length);
    }
    const result = await publisher.flush();
    progress.done();
    process.stdout.write(
      `ingest: ${result.entries} entries in ${result.messages} messages to ${ns.logStream}` +
        (result.duplicates > 0 ? ` (${result.duplicates} already in the log, dropped by JetStream)` : '') +
        '\n',
    );
  } finally {
    await nc.drain();
  }
}

/**
 * The log entry of one line of the file, stamped. The fast check first (the entry kept as written,
 * a `__proto__` metadata key included as the log keeps it), zod for the rest and its problems;
 * metadata whose usable keys JavaScript would move carries the order of the line
 * (`withMetadataInSentOrder`), which the publisher writes back (`entryJson`).
 */
export function entryOfLine(line: string, where: string, keepTime: boolean, receivedAt: number): LogEntry {
  const json = parseJson(line, where);
  if (isNudgeWritten(json)) return stateEntryOf(json, where, keepTime, receivedAt);
  const result = isWellFormedIngestEntry(json)
    ? ({ success: true, data: json } as const)
    : IngestEntrySchema.safeParse(json);
  if (!result.success)
    throw new InputError(where, formatIssues(result.error.issues, [], keysOf(IngestEntrySchema)));
  const recorded = result.data.received_at;
  if (keepTime && recorded === undefined)
    throw new InputError(where, ['received_at: required with --keep-time']);
  const entry = stampEntry(
    result.data,
    randomUUID,
    keepTime && recorded !== undefined ? recorded : receivedAt,
  );
  return withMetadataInSentOrder(entry, line);
}

/**
 * `preferences` and `push_subscription` entries, which Nudge writes itself (a recorded log holds
 * them, and a file of them replays as the log did): stamped as a producer's entry is, then held to
 * the log's contract.
 */
const isNudgeWritten = (json: unknown): json is Record<string, unknown> =>
  typeof json === 'object' &&
  json !== null &&
  ['preferences', 'push_subscription'].includes((json as { type?: unknown }).type as string);

function stateEntryOf(
  json: Record<string, unknown>,
  where: string,
  keepTime: boolean,
  receivedAt: number,
): LogEntry {
  const recorded = json['received_at'];
  if (keepTime && recorded === undefined)
    throw new InputError(where, ['received_at: required with --keep-time']);
  const stamped = { ...json, id: json['id'] ?? randomUUID(), received_at: keepTime ? recorded : receivedAt };
  const result = LogEntrySchema.safeParse(stamped);
  if (!result.success)
    throw new InputError(where, formatIssues(result.error.issues, [], keysOf(LogEntrySchema)));
  return result.data;
}

/** A progress line on stderr, at most once a second, for long files. */
class Progress {
  private count = 0;
  private readonly started = Date.now();
  private shown = Date.now();

  add(entries: number): void {
    this.count += entries;
    if (Date.now() - this.shown < 1_000) return;
    this.shown = Date.now();
    process.stderr.write(`\ringest: ${this.count} entries, ${this.rate()} entries/s`);
  }

  done(): void {
    if (this.shown !== this.started) process.stderr.write('\n');
  }

  private rate(): number {
    return Math.round(this.count / Math.max((Date.now() - this.started) / 1000, 0.001));
  }
}

function parseIngestArgs(args: string[]): { file: string; keepTime: boolean } {
  let values;
  try {
    ({ values } = parseArgs({
      args,
      options: { file: { type: 'string' }, 'keep-time': { type: 'boolean', default: false } },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    throw new UsageError((error as Error).message, { cause: error });
  }
  if (values.file === undefined) throw new UsageError('--file <entries.ndjson> is required');
  return { file: values.file, keepTime: values['keep-time'] };
}
