import type { Consumer, JetStreamClient, JetStreamManager, JsMsg } from 'nats';
import { AckPolicy, DeliverPolicy, nanos, NatsError } from 'nats';
import type { Batch, BatchReader } from '../../ports/batch-reader.ts';

/** JetStream's API error code for "consumer not found". */
const CONSUMER_NOT_FOUND = 10014;
const ACK_WAIT_MS = 15_000;

/**
 * A `BatchReader` on a durable pull consumer (created on first use, shared by every process that
 * names it), decoding each message into items with `decode`.
 */
export class JetStreamDurableReader<T> implements BatchReader<T> {
  private consumer: Consumer | undefined;

  constructor(
    private readonly js: JetStreamClient,
    private readonly jsm: JetStreamManager,
    private readonly stream: string,
    private readonly durable: string,
    private readonly decode: (message: JsMsg) => T[],
    /** Only this subject of the stream (one subject: nats-server 2.9 has no `filter_subjects`). */
    private readonly filterSubject?: string,
  ) {}

  async next(maxMessages: number): Promise<Batch<T>> {
    const consumer = await this.ensureConsumer();
    const messages: JsMsg[] = [];
    for await (const message of await consumer.fetch({ max_messages: maxMessages, expires: 1_000 }))
      messages.push(message);
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

  private async ensureConsumer(): Promise<Consumer> {
    if (this.consumer !== undefined) return this.consumer;
    try {
      await this.jsm.consumers.info(this.stream, this.durable);
    } catch (error) {
      if (!(error instanceof NatsError && error.api_error?.err_code === CONSUMER_NOT_FOUND)) throw error;
      await this.jsm.consumers.add(this.stream, {
        durable_name: this.durable,
        ack_policy: AckPolicy.Explicit,
        deliver_policy: DeliverPolicy.All,
        // A batch read by a process that died comes again after this; an insert must finish within it.
        ack_wait: nanos(ACK_WAIT_MS),
        max_ack_pending: 50_000,
        ...(this.filterSubject === undefined ? {} : { filter_subject: this.filterSubject }),
      });
    }
    this.consumer = await this.js.consumers.get(this.stream, this.durable);
    return this.consumer;
  }
}
