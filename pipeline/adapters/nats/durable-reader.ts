import type { Consumer, ConsumerMessages, JetStreamClient, JetStreamManager, JsMsg } from 'nats';
import { AckPolicy, DeliverPolicy, nanos, NatsError } from 'nats';
import type { Batch, BatchReader } from '../../ports/batch-reader.ts';
import { wakeOrTimeout } from './wake-or-timeout.ts';

/** JetStream's API error code for "consumer not found". */
const CONSUMER_NOT_FOUND = 10014;
const ACK_WAIT_MS = 15_000;
/**
 * Messages delivered and not yet acked, at most: JetStream stops delivering there, which bounds
 * what a reader holds in memory (a log message packs up to 100 entries).
 */
const MAX_ACK_PENDING = 2_000;

export type DurableReaderOptions = {
  /** Only this subject of the stream (one subject: nats-server 2.9 has no `filter_subjects`). */
  readonly filterSubject?: string;
  /**
   * How long a batch may wait to fill once it has a first message: the audit writers wait up to
   * a second so that ClickHouse gets few, large inserts; the in-app inbox writer does not wait.
   */
  readonly lingerMs?: number;
  /** Told, as messages arrive, how many more wait for this consumer after each. */
  readonly onBacklog?: (pending: number) => void;
  /**
   * Messages delivered and not yet acked, at most (default 2,000). A reader that handles one
   * message at a time (a channel sender) needs few: a message that waits in the buffer longer than
   * the ack wait (15 s) is delivered again, and a sender behind by more than that would send it twice.
   */
  readonly maxAckPending?: number;
};

/**
 * A `BatchReader` on a durable pull consumer (created on first use, shared by every process that
 * names it), decoding each message into items with `decode`.
 *
 * Messages are taken from the client in its consume callback, the moment they arrive, into a
 * buffer of ours: nats.js can drop what still waits in a pull's own iterator when the pull closes
 * (here that cost a 15 s stall until JetStream redelivered them). The buffer is bounded by the
 * consumer's `max_ack_pending`.
 */
export class JetStreamDurableReader<T> implements BatchReader<T> {
  private consumer: Consumer | undefined;
  private running: ConsumerMessages | undefined;
  private buffer: JsMsg[] = [];
  private wake: (() => void) | undefined;
  private failure: Error | undefined;

  constructor(
    private readonly js: JetStreamClient,
    private readonly jsm: JetStreamManager,
    private readonly stream: string,
    private readonly durable: string,
    private readonly decode: (message: JsMsg) => T[],
    private readonly options: DurableReaderOptions = {},
  ) {}

  async next(maxMessages: number): Promise<Batch<T>> {
    if (this.running === undefined) await this.start();
    if (this.buffer.length === 0) await this.arrival(1_000);
    const linger = this.options.lingerMs ?? 0;
    if (linger > 0 && this.buffer.length > 0) {
      const until = performance.now() + linger;
      while (this.buffer.length < maxMessages && this.failure === undefined && performance.now() < until)
        await this.arrival(until - performance.now());
    }
    if (this.failure !== undefined) {
      const failure = this.failure;
      this.failure = undefined;
      throw failure;
    }
    const messages = this.buffer.splice(0, maxMessages);
    return {
      items: messages.flatMap(this.decode),
      ack: () => {
        for (const message of messages) message.ack();
      },
      nak: (delayMs) => {
        for (const message of messages) message.nak(delayMs);
      },
    };
  }

  private get maxAckPending(): number {
    return this.options.maxAckPending ?? MAX_ACK_PENDING;
  }

  /** Stops reading; what was delivered and not acked comes again to another reader after the ack wait. */
  close(): void {
    this.running?.stop();
    this.running = undefined;
  }

  private async start(): Promise<void> {
    const consumer = await this.ensureConsumer();
    const running = await consumer.consume({
      max_messages: Math.min(256, this.maxAckPending),
      callback: (message: JsMsg) => {
        this.buffer.push(message);
        this.options.onBacklog?.(message.info.pending);
        this.wake?.();
      },
    });
    this.running = running;
    void running.closed().then((error) => {
      if (this.running !== running) return;
      // Closed under us (the consumer or the stream was removed): the next read says why and starts again.
      this.running = undefined;
      this.consumer = undefined;
      this.failure = error instanceof Error ? error : new Error(`the consumer ${this.durable} stopped`);
      this.wake?.();
    });
  }

  /** Resolves when a message (or a failure) arrives, or after `ms`. */
  private arrival(ms: number): Promise<void> {
    return wakeOrTimeout((wake) => {
      this.wake = wake;
    }, ms);
  }

  private async ensureConsumer(): Promise<Consumer> {
    if (this.consumer !== undefined) return this.consumer;
    const config = {
      ack_policy: AckPolicy.Explicit,
      // A batch read by a process that died comes again after this; an insert must finish within it.
      ack_wait: nanos(ACK_WAIT_MS),
      max_ack_pending: this.maxAckPending,
    };
    try {
      const info = await this.jsm.consumers.info(this.stream, this.durable);
      if (info.config.max_ack_pending !== config.max_ack_pending || info.config.ack_wait !== config.ack_wait)
        await this.jsm.consumers.update(this.stream, this.durable, config);
    } catch (error) {
      if (!(error instanceof NatsError && error.api_error?.err_code === CONSUMER_NOT_FOUND)) throw error;
      await this.jsm.consumers.add(this.stream, {
        ...config,
        durable_name: this.durable,
        deliver_policy: DeliverPolicy.All,
        ...(this.options.filterSubject === undefined ? {} : { filter_subject: this.options.filterSubject }),
      });
    }
    this.consumer = await this.js.consumers.get(this.stream, this.durable);
    return this.consumer;
  }
}
