import type { Consumer, JsMsg } from 'nats';
import type { JetStreamClient } from 'nats';
import { DeliverPolicy } from 'nats';
import type { Namespace } from '../../namespace.ts';
import type { LogMessage, LogSource } from '../../ports/log-source.ts';
import { decodePack } from './log-envelope.ts';

type Reader = {
  readonly consumer: Consumer;
  /** The last sequence handed out by `read`. */
  position: number;
  /** The pull in progress: JetStream delivers its messages as they are stored. */
  pull: AsyncIterator<JsMsg> | undefined;
  /** Messages the pull has delivered so far (a pull that ends having delivered none is an idle wait). */
  delivered: number;
  /** A `next()` of the pull still pending when the last read returned, kept for the next read. */
  next: Promise<IteratorResult<JsMsg>> | undefined;
};

const TIMED_OUT = Symbol('timed out');

/**
 * A partition's log read with a JetStream ordered consumer from the owner's position: ordered
 * consumers deliver in sequence without gaps or redeliveries (the client resets them on a gap),
 * which an acked pull consumer does not promise (a redelivered message can come after later ones,
 * and would then be skipped as already applied). The position lives with the states in Redis, so
 * nothing is acked here.
 *
 * A pull stays open across reads: a read returns as soon as it has messages and no more are
 * already waiting, rather than when the pull is full or expires, so an entry is decided about as
 * soon as it is stored, and each pull (bounded by `max`) still carries a whole batch under load.
 */
export class JetStreamLogSource implements LogSource {
  private readonly readers = new Map<number, Reader>();

  constructor(
    private readonly js: JetStreamClient,
    private readonly ns: Namespace,
    /** How long a read waits for a first message (a pull's expiry; JetStream's minimum is 1 s). */
    private readonly waitMs = 1_000,
  ) {}

  async read(partition: number, after: number, max: number): Promise<readonly LogMessage[]> {
    const reader = await this.readerAt(partition, after);
    const messages: LogMessage[] = [];
    while (messages.length < max) {
      if (reader.pull === undefined) {
        const pull = await reader.consumer.fetch({ max_messages: max, expires: this.waitMs });
        reader.pull = pull[Symbol.asyncIterator]();
        reader.delivered = 0;
      }
      reader.next ??= reader.pull.next();
      // The first message may be waited for; later ones only if already here.
      const result = await within(reader.next, messages.length === 0 ? this.waitMs + 500 : 0);
      if (result === TIMED_OUT) break;
      reader.next = undefined;
      if (result.done === true) {
        const idle = reader.delivered === 0;
        reader.pull = undefined;
        if (idle || messages.length > 0) break;
        continue;
      }
      reader.delivered++;
      const message = result.value;
      messages.push({
        seq: message.seq,
        entries: decodePack(message.data, `${this.ns.logStream} seq ${message.seq}`),
      });
    }
    const last = messages[messages.length - 1];
    if (last !== undefined) reader.position = last.seq;
    return messages;
  }

  /** Stops every pull and removes the consumers from the server. */
  async close(): Promise<void> {
    await Promise.all([...this.readers.keys()].map((partition) => this.drop(partition)));
  }

  private async readerAt(partition: number, after: number): Promise<Reader> {
    const current = this.readers.get(partition);
    if (current?.position === after) return current;
    await this.drop(partition);
    const consumer = await this.js.consumers.get(this.ns.logStream, {
      // One subject as a string: nats-server 2.9 (the Debian package) has no `filter_subjects`.
      filterSubjects: this.ns.logSubject(partition),
      deliver_policy: DeliverPolicy.StartSequence,
      opt_start_seq: after + 1,
    });
    const reader: Reader = { consumer, position: after, pull: undefined, delivered: 0, next: undefined };
    this.readers.set(partition, reader);
    return reader;
  }

  private async drop(partition: number): Promise<void> {
    const reader = this.readers.get(partition);
    if (reader === undefined) return;
    this.readers.delete(partition);
    await reader.pull?.return?.();
    await reader.consumer.delete().catch(() => false);
  }
}

/** The promise's result, or TIMED_OUT if it takes longer than `ms` (0: only if it has already settled). */
async function within<T>(promise: Promise<T>, ms: number): Promise<T | typeof TIMED_OUT> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<typeof TIMED_OUT>((resolve) => {
    // setImmediate runs after the promise jobs already queued, so a settled promise wins.
    const timedOut = () => {
      resolve(TIMED_OUT);
    };
    if (ms === 0) setImmediate(timedOut);
    else timer = setTimeout(timedOut, ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
