import type { LogEntry } from '../../core/log-entry.ts';
import { partitionOf } from '../../core/partition.ts';
import type { Namespace } from '../../namespace.ts';
import type { JetStreamPublisher, Stored } from './jetstream-publisher.ts';
import type { EntryOutcome } from './log-stream.ts';
import { messageId } from './log-stream.ts';
import type { Line } from './packs.ts';
import { cutPacks, encodeLines, entryLineOf, PACK_SIZE } from './packs.ts';

/** One caller's entries, waiting for the acknowledgements of the packs that hold them. */
type Waiter = {
  readonly outcomes: EntryOutcome[];
  left: number;
  settled: boolean;
  readonly resolve: (outcomes: EntryOutcome[]) => void;
  readonly reject: (error: unknown) => void;
};

type Queued = {
  readonly user_id: string;
  readonly id: string;
  readonly line: Line;
  readonly waiter: Waiter;
  readonly index: number;
};

/**
 * The log as the API writes it: the entries of every request that arrives in one turn of the
 * event loop are packed together per partition, so concurrent requests share JetStream messages
 * and acknowledgements (a message per entry costs the client, the server and the socket a
 * request/reply each: at one entry a request, that was most of the API's work).
 *
 * A caller's promise resolves once every pack holding its entries is acknowledged (PubAck), with
 * each entry's outcome, and rejects if any of them failed: then none of its entries may be
 * claimed stored (some may be; a retry is dropped as a repeat by the matcher, DESIGN §2). Entries
 * keep their order within a partition: packs of one partition are published in order on one
 * connection. A pack is `duplicate` only when JetStream saw the very same pack (same ids) within
 * its window; a retried entry packed with others is stored again and dropped by the matcher.
 */
export class LogAppender {
  private readonly queues = new Map<number, Queued[]>();
  /** Partitions with a pack published and not yet acknowledged: their next entries wait and grow a pack. */
  private readonly inFlight = new Set<number>();
  /** When the queues were last flushed (`performance.now()`), and whether a flush is coming. */
  private lastFlush = -Infinity;
  private scheduled = false;

  /**
   * @param gapMs the queues are flushed at most once in this time unless a pack is full: under load
   *   entries wait for one another (fewer, larger messages, and one write for all partitions); an
   *   entry that finds the log quiet is published at once, so a quiet log costs no latency.
   */
  constructor(
    private readonly publisher: JetStreamPublisher,
    private readonly ns: Namespace,
    private readonly partitions: number,
    private readonly gapMs = 2,
  ) {}

  append(entries: readonly LogEntry[]): Promise<EntryOutcome[]> {
    if (entries.length === 0) return Promise.resolve([]);
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        outcomes: entries.map(() => 'stored'),
        left: entries.length,
        settled: false,
        resolve,
        reject,
      };
      for (let index = 0; index < entries.length; index++) {
        const entry = entries[index] as LogEntry;
        const partition = partitionOf(entry.user_id, this.partitions);
        let queue = this.queues.get(partition);
        if (queue === undefined) {
          queue = [];
          this.queues.set(partition, queue);
        }
        queue.push({ user_id: entry.user_id, id: entry.id, line: entryLineOf(entry), waiter, index });
      }
      this.schedule();
    });
  }

  /**
   * Flushes after the I/O callbacks of this turn (every request read in it is then queued), or,
   * when the last flush was less than `gapMs` ago and no pack is full, at `gapMs` after it: one
   * timer and one flush for all partitions, so their packs go out in one socket write.
   */
  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    const wait = this.lastFlush + this.gapMs - performance.now();
    if (wait > 0 && !this.anyFull()) setTimeout(this.flush, wait);
    else setImmediate(this.flush);
  }

  private readonly flush = (): void => {
    this.scheduled = false;
    this.lastFlush = performance.now();
    for (const [partition, queue] of this.queues) {
      if (this.inFlight.has(partition)) continue;
      this.queues.delete(partition);
      this.inFlight.add(partition);
      const packs = cutPacks(queue, (item) => item.line.bytes);
      Promise.all(packs.map((pack) => this.publish(partition, pack)))
        .finally(() => {
          this.inFlight.delete(partition);
          if (this.queues.has(partition)) this.schedule();
        })
        .catch(() => undefined);
    }
  };

  private anyFull(): boolean {
    for (const queue of this.queues.values()) if (queue.length >= PACK_SIZE) return true;
    return false;
  }

  private publish(partition: number, pack: readonly Queued[]): Promise<void> {
    const body = encodeLines(pack.map((item) => item.line));
    const msgID = messageId(pack);
    return this.publisher.publish(this.ns.logSubject(partition), body, msgID).then(
      (ack: Stored) => {
        for (const { waiter, index } of pack) {
          if (ack.duplicate) waiter.outcomes[index] = 'duplicate';
          if (--waiter.left === 0 && !waiter.settled) {
            waiter.settled = true;
            waiter.resolve(waiter.outcomes);
          }
        }
      },
      (error: unknown) => {
        for (const { waiter } of pack) {
          if (waiter.settled) continue;
          waiter.settled = true;
          waiter.reject(error);
        }
      },
    );
  }
}
