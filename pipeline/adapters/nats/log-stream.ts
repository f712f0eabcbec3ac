import type { JetStreamClient, JetStreamManager, PubAck } from 'nats';
import { nanos, RetentionPolicy, StorageType } from 'nats';
import type { LogEntry } from '../../core/log-entry.ts';
import { partitionOf } from '../../core/partition.ts';
import { InputError } from '../../errors.ts';
import type { Namespace } from '../../namespace.ts';
import { DUPLICATE_WINDOW_MS } from '../../ports/entry-log.ts';
import type { Line } from './packs.ts';
import { cutPacks, encodeLines, entryLineOf, packId } from './packs.ts';
import { ensureStream } from './stream-info.ts';

/** How long JetStream drops a repeated `Nats-Msg-Id` (its duplicate window): the port's promise. */
export { DUPLICATE_WINDOW_MS } from '../../ports/entry-log.ts';

/**
 * Creates the log stream of a namespace, or checks the one there: subjects `<ns>.log.<p>` for
 * `partitions` partitions (fixed for the life of the stream: a user's partition must never
 * change), file storage, the duplicate window, and entries kept `retentionDays`.
 */
export async function ensureLogStream(
  jsm: JetStreamManager,
  ns: Namespace,
  partitions: number,
  retentionDays = 7,
): Promise<void> {
  const description = `nudge log: ${partitions} partitions`;
  const stream = await ensureStream(jsm, ns, {
    name: ns.logStream,
    description,
    subjects: [ns.logSubjects],
    storage: StorageType.File,
    retention: RetentionPolicy.Limits,
    max_age: nanos(retentionDays * 86_400_000),
    duplicate_window: nanos(DUPLICATE_WINDOW_MS),
  });
  if (stream.config.description !== description) {
    throw new InputError('NUDGE_PARTITIONS', [
      `the log stream ${ns.logStream} was made as "${stream.config.description ?? ''}", not with ${partitions} partitions: a user's partition must never change`,
    ]);
  }
}

export type PublishResult = {
  readonly entries: number;
  readonly messages: number;
  readonly duplicates: number;
};

/**
 * Publishes entries to the log, packed per partition (`cutPacks`), with many publishes in flight
 * (never one awaited at a time): for bulk loads such as `nudge ingest`, where one producer has
 * the entries at hand (the API's concurrent requests go through `LogAppender`). Publishing the
 * same packs again inside the duplicate window stores nothing. Resolves when every message is
 * acknowledged (PubAck): only then is an entry durably in the log.
 */
export class LogPublisher {
  private readonly inFlight = new Set<Promise<void>>();
  private readonly result = { entries: 0, messages: 0, duplicates: 0 };
  private failure: Error | undefined;

  constructor(
    private readonly js: JetStreamClient,
    private readonly ns: Namespace,
    private readonly partitions: number,
    private readonly maxInFlight = 256,
  ) {}

  /** Queues the entries (in order, per partition); resolves once they are sent, not yet acknowledged. */
  async publish(entries: readonly LogEntry[]): Promise<void> {
    const byPartition = new Map<number, { entry: LogEntry; line: Line }[]>();
    for (const entry of entries) {
      const partition = partitionOf(entry.user_id, this.partitions);
      const list = byPartition.get(partition) ?? [];
      list.push({ entry, line: entryLineOf(entry) });
      byPartition.set(partition, list);
    }
    for (const [partition, list] of byPartition) {
      for (const pack of cutPacks(list, (item) => item.line.bytes)) await this.send(partition, pack);
    }
  }

  /** Waits for every acknowledgement; throws if any publish failed. */
  async flush(): Promise<PublishResult> {
    await Promise.all(this.inFlight);
    if (this.failure !== undefined) throw this.failure;
    return { ...this.result };
  }

  private async send(partition: number, pack: readonly { entry: LogEntry; line: Line }[]): Promise<void> {
    while (this.inFlight.size >= this.maxInFlight) await Promise.race(this.inFlight);
    if (this.failure !== undefined) throw this.failure;
    const msgID = messageId(pack.map((item) => item.entry));
    const body = encodeLines(pack.map((item) => item.line));
    const tracked: Promise<void> = this.js
      .publish(this.ns.logSubject(partition), body, { msgID })
      .then(
        (ack: PubAck) => {
          this.result.messages++;
          this.result.entries += pack.length;
          if (ack.duplicate) this.result.duplicates += pack.length;
        },
        // Kept for send and flush to throw: a rejection nobody awaits would end the process.
        (error: unknown) => {
          this.failure ??= error instanceof Error ? error : new Error(String(error));
        },
      )
      .finally(() => this.inFlight.delete(tracked));
    this.inFlight.add(tracked);
  }
}

/**
 * A log message's `Nats-Msg-Id`: `entry:` for a lone entry, `pack:` for more, and the digest of
 * each entry's user id and id (`packId`): an id is the client's key for one user's entry (DESIGN
 * §2), so two users' entries with the same id are two entries, never one dropped as a duplicate.
 */
export const messageId = (entries: readonly Pick<LogEntry, 'user_id' | 'id'>[]): string =>
  packId(
    entries.length === 1 ? 'entry' : 'pack',
    entries.flatMap((entry) => [entry.user_id, entry.id]),
  );

/** What became of one entry published to the log. */
export type EntryOutcome = 'stored' | 'duplicate';
