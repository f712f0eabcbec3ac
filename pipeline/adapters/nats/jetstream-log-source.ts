import type { Consumer, ConsumerMessages, JetStreamClient, JsMsg } from 'nats';
import { DeliverPolicy } from 'nats';
import type { Namespace } from '../../namespace.ts';
import type { LogMessage, LogSource } from '../../ports/log-source.ts';
import { decodePackLeniently } from './packs.ts';
import { wakeOrTimeout } from './wake-or-timeout.ts';

type Stored = { readonly seq: number; readonly data: Uint8Array; readonly storedAt: number };

/** One partition's reading: a buffer that an ordered consumer fills ahead of the owner's reads. */
type Reader = {
  /** The last sequence handed out by `read`. */
  position: number;
  /** The last sequence buffered. */
  fetched: number;
  buffer: Stored[];
  /** The consume in progress, if any: it stops when the buffer is full, and starts again from `fetched` when it has room. */
  running: { readonly consumer: Consumer; readonly messages: ConsumerMessages } | undefined;
  /** Bumped at every start, so a stopped consume's late messages are recognized and dropped. */
  generation: number;
  wake: (() => void) | undefined;
  failure: Error | undefined;
};

/**
 * A partition's log read with a JetStream ordered consumer from the owner's position: ordered
 * consumers deliver in sequence without gaps or redeliveries (the client resets them on a gap),
 * which an acked pull consumer does not promise (a redelivered message can come after later ones,
 * and would then be skipped as already applied). The position lives with the states in Redis, so
 * nothing is acked here.
 *
 * Messages are taken from the client in its callback, the moment they arrive, into a buffer of
 * ours: nats.js drops what waits in a pull's own iterator when the pull closes, so a pull must
 * never be left half-read. The buffer holds up to `4 × max` messages (the consume stops there and
 * starts again from the last one held), and a read returns what is buffered without waiting for
 * more, so an entry is decided about as soon as it is stored and batches grow with the backlog.
 */
export class JetStreamLogSource implements LogSource {
  private readonly readers = new Map<number, Reader>();

  constructor(
    private readonly js: JetStreamClient,
    private readonly ns: Namespace,
    /** How long a read waits for a first message when none is buffered. */
    private readonly waitMs = 1_000,
    /** Told, as messages arrive, how many more of the partition are stored after each. */
    private readonly onLag?: (partition: number, pending: number) => void,
  ) {}

  async read(partition: number, after: number, max: number): Promise<readonly LogMessage[]> {
    const reader = await this.readerAt(partition, after);
    if (reader.buffer.length === 0) {
      if (reader.running === undefined) await this.start(partition, reader, max);
      await this.arrival(reader);
    }
    if (reader.failure !== undefined) {
      const failure = reader.failure;
      await this.drop(partition);
      throw failure;
    }
    const taken = reader.buffer.splice(0, max);
    if (reader.running === undefined && reader.buffer.length < max) await this.start(partition, reader, max);
    const messages = taken.map(({ seq, data, storedAt }): LogMessage => {
      const { entries, malformed } = decodePackLeniently(data, `${this.ns.logStream} seq ${seq}`);
      return malformed.length === 0 ? { seq, entries } : { seq, entries, malformed, stored_at: storedAt };
    });
    const last = messages[messages.length - 1];
    if (last !== undefined) reader.position = last.seq;
    return messages;
  }

  /** Stops every consume and removes the consumers from the server. */
  async close(): Promise<void> {
    await Promise.all([...this.readers.keys()].map((partition) => this.drop(partition)));
  }

  private async readerAt(partition: number, after: number): Promise<Reader> {
    const current = this.readers.get(partition);
    if (current?.position === after) return current;
    await this.drop(partition);
    const reader: Reader = {
      position: after,
      fetched: after,
      buffer: [],
      running: undefined,
      generation: 0,
      wake: undefined,
      failure: undefined,
    };
    this.readers.set(partition, reader);
    return reader;
  }

  private async start(partition: number, reader: Reader, max: number): Promise<void> {
    const generation = ++reader.generation;
    const consumer = await this.js.consumers.get(this.ns.logStream, {
      // One subject as a string: nats-server 2.9 (the Debian package) has no `filter_subjects`.
      filterSubjects: this.ns.logSubject(partition),
      deliver_policy: DeliverPolicy.StartSequence,
      opt_start_seq: reader.fetched + 1,
    });
    const highWater = 4 * max;
    const messages = await consumer.consume({
      max_messages: max,
      callback: (message: JsMsg) => {
        if (reader.generation !== generation || message.seq <= reader.fetched) return;
        reader.buffer.push({
          seq: message.seq,
          data: message.data,
          storedAt: Math.floor(message.info.timestampNanos / 1e6),
        });
        this.onLag?.(partition, message.info.pending);
        reader.fetched = message.seq;
        reader.wake?.();
        if (reader.buffer.length >= highWater) void this.stop(reader);
      },
    });
    reader.running = { consumer, messages };
    void messages.closed().then((error) => {
      if (reader.generation !== generation) return; // stopped by us
      // Closed under us: a failure is thrown by the next read; otherwise the next read starts again.
      reader.running = undefined;
      if (error instanceof Error) reader.failure = error;
      reader.wake?.();
    });
  }

  private async stop(reader: Reader): Promise<void> {
    const running = reader.running;
    if (running === undefined) return;
    reader.running = undefined;
    reader.generation++;
    running.messages.stop();
    await running.consumer.delete().catch(() => false);
  }

  /** Resolves when a message (or a failure) arrives, or after `waitMs`. */
  private arrival(reader: Reader): Promise<void> {
    return wakeOrTimeout((wake) => {
      reader.wake = wake;
    }, this.waitMs);
  }

  private async drop(partition: number): Promise<void> {
    const reader = this.readers.get(partition);
    if (reader === undefined) return;
    this.readers.delete(partition);
    await this.stop(reader);
  }
}
