import { createHash } from 'node:crypto';
import type { JetStreamClient, JetStreamManager, PubAck } from 'nats';
import { nanos, RetentionPolicy, StorageType } from 'nats';
import type { LogEntry } from '../../core/log-entry.ts';
import { partitionOf } from '../../core/partition.ts';
import { InputError } from '../../errors.ts';
import type { Namespace } from '../../namespace.ts';
import { encodePack } from './log-envelope.ts';
import { ensureStream } from './stream-info.ts';

/** How long JetStream drops a repeated `Nats-Msg-Id` (its duplicate window). */
export const DUPLICATE_WINDOW_MS = 2 * 60_000;
/** Entries per log message, at most. */
export const PACK_SIZE = 100;

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
  const stream = await ensureStream(jsm, {
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
 * Publishes entries to the log, packed per partition, with many publishes in flight (never one
 * awaited at a time). A pack's `Nats-Msg-Id` is a digest of its entry ids, so publishing the same
 * pack again inside the duplicate window stores nothing; a single entry's is its own id. Resolves
 * when every message is acknowledged (PubAck): only then is an entry durably in the log.
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
    const byPartition = new Map<number, LogEntry[]>();
    for (const entry of entries) {
      const partition = partitionOf(entry.user_id, this.partitions);
      const pack = byPartition.get(partition) ?? [];
      pack.push(entry);
      byPartition.set(partition, pack);
    }
    for (const [partition, list] of byPartition) {
      for (let i = 0; i < list.length; i += PACK_SIZE)
        await this.send(partition, list.slice(i, i + PACK_SIZE));
    }
  }

  /** Waits for every acknowledgement; throws if any publish failed. */
  async flush(): Promise<PublishResult> {
    await Promise.all(this.inFlight);
    if (this.failure !== undefined) throw this.failure;
    return { ...this.result };
  }

  private async send(partition: number, pack: readonly LogEntry[]): Promise<void> {
    while (this.inFlight.size >= this.maxInFlight) await Promise.race(this.inFlight);
    if (this.failure !== undefined) throw this.failure;
    const msgID = messageId(pack);
    const tracked: Promise<void> = this.js
      .publish(this.ns.logSubject(partition), encodePack(pack), { msgID })
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
 * A log message's `Nats-Msg-Id`: `entry:` and the digest of a lone entry's id, or `pack:` and the
 * digest of a pack's ids joined by newlines. A digest rather than the id itself: a header value
 * cannot hold CR or LF, and NATS trims and re-encodes what it keeps, so distinct ids (`"dd"` and
 * `"dd "`) would collide and one would be dropped as a duplicate.
 */
export const messageId = (pack: readonly LogEntry[]): string => {
  const digest = (text: string) => createHash('sha256').update(text).digest('base64url');
  return pack.length === 1
    ? `entry:${digest(pack[0]?.id ?? '')}`
    : `pack:${digest(pack.map((entry) => entry.id).join('\n'))}`;
};

/** What became of one entry published by `publishEntries`. */
export type EntryOutcome = 'stored' | 'duplicate';

/**
 * Publishes one request's entries and resolves, once JetStream acknowledged every message, with
 * each entry's outcome, in the order given; rejects if any publish failed (then nothing may be
 * claimed stored: some packs may be, and a retry with the same ids is dropped as a duplicate). A
 * lone entry is its own message with its id as `Nats-Msg-Id`, so a client's retry is told
 * `duplicate`; a batch is packed per partition, and a pack is `duplicate` when the same batch
 * was published before.
 */
export async function publishEntries(
  js: JetStreamClient,
  ns: Namespace,
  partitions: number,
  entries: readonly LogEntry[],
): Promise<EntryOutcome[]> {
  const packs = new Map<number, number[]>();
  entries.forEach((entry, i) => {
    const partition = partitionOf(entry.user_id, partitions);
    const list = packs.get(partition) ?? [];
    list.push(i);
    packs.set(partition, list);
  });
  const outcomes: EntryOutcome[] = entries.map(() => 'stored');
  const acks: Promise<void>[] = [];
  for (const [partition, indexes] of packs) {
    for (let i = 0; i < indexes.length; i += PACK_SIZE) {
      const slice = indexes.slice(i, i + PACK_SIZE);
      const pack = slice.map((index) => entries[index] as LogEntry);
      const msgID = messageId(pack);
      acks.push(
        js.publish(ns.logSubject(partition), encodePack(pack), { msgID }).then((ack) => {
          if (ack.duplicate) for (const index of slice) outcomes[index] = 'duplicate';
        }),
      );
    }
  }
  await Promise.all(acks);
  return outcomes;
}
