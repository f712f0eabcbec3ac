import type { Consumer, JetStreamClient, JetStreamManager } from 'nats';
import { AckPolicy, DeliverPolicy, nanos, NatsError, RetentionPolicy, StorageType } from 'nats';
import type { Namespace } from '../../namespace.ts';
import type { HeldDelivery, HeldSend, HeldSends } from '../../ports/held-sends.ts';
import { decodeValue } from './packs.ts';
import { ensureStream } from './stream-info.ts';

/** JetStream's API error code for "consumer not found". */
const CONSUMER_NOT_FOUND = 10014;
/** A held send published again within a day (a batch the matcher redid after a crash) is dropped, as on the deliveries stream. */
const HELD_DEDUP_MS = 86_400_000;
/** A held send taken by a process that died comes again after this. */
const ACK_WAIT_MS = 15_000;
/** How long one `take` waits for held sends to come. */
const TAKE_MS = 1_000;

/**
 * The held stream: `<ns>.held.<channel>`, one message per send held until its `deliver_at`, with
 * the delivery it will be. A work queue with no age limit: a held send is kept until it is
 * released or cancelled (acked), however far ahead it is due (`defer_max` allows years), and then
 * removed, so the stream holds only the sends still waiting. Its duplicate window is a day, as the
 * deliveries stream's, and holds after a send is removed, so a matcher publishing a batch again
 * does not hold a send twice.
 */
export async function ensureHeldStream(jsm: JetStreamManager, ns: Namespace): Promise<void> {
  await ensureStream(jsm, ns, {
    name: ns.heldStream,
    subjects: [ns.heldSubjects],
    storage: StorageType.File,
    retention: RetentionPolicy.Workqueue,
    max_age: 0,
    duplicate_window: nanos(HELD_DEDUP_MS),
  });
}

/**
 * The held sends through one durable pull consumer (`held_releaser`, shared by every process that
 * runs a releaser), each settled on its own with an explicit ack or a nak with a delay, which
 * JetStream keeps with the consumer: a send put back survives restarts of the releaser and of
 * the server, and comes again when its delay is over.
 *
 * `max_ack_pending` is unlimited: a send put back until it is due counts as pending, so any limit
 * would stop new sends (due sooner) from coming once that many wait for later ones. What a process
 * holds in memory is bounded instead by taking sends with `fetch`, `max` at a time, never with a
 * standing subscription that would pull all those coming due at once.
 */
export class JetStreamHeldSends implements HeldSends {
  private consumer: Consumer | undefined;

  constructor(
    private readonly js: JetStreamClient,
    private readonly jsm: JetStreamManager,
    private readonly ns: Namespace,
    private readonly durable = 'held_releaser',
  ) {}

  async *take(max: number): AsyncIterable<HeldSend> {
    const consumer = await this.ensureConsumer();
    let messages;
    try {
      messages = await consumer.fetch({ max_messages: max, expires: TAKE_MS });
    } catch (error) {
      // The consumer or the stream may have been removed: the next take makes it again.
      this.consumer = undefined;
      throw error;
    }
    for await (const message of messages) {
      let delivery: HeldDelivery;
      try {
        delivery = decodeValue(message.data) as HeldDelivery;
      } catch {
        // Only the forwarder writes here: a body that is no JSON could never be released.
        message.term();
        continue;
      }
      yield {
        delivery,
        ack: () => {
          message.ack();
        },
        nak: (delayMs) => {
          message.nak(delayMs);
        },
      };
    }
  }

  private async ensureConsumer(): Promise<Consumer> {
    if (this.consumer !== undefined) return this.consumer;
    const config = {
      ack_policy: AckPolicy.Explicit,
      ack_wait: nanos(ACK_WAIT_MS),
      max_ack_pending: -1,
      max_deliver: -1,
    };
    try {
      const info = await this.jsm.consumers.info(this.ns.heldStream, this.durable);
      if (info.config.max_ack_pending !== -1 || info.config.ack_wait !== config.ack_wait)
        await this.jsm.consumers.update(this.ns.heldStream, this.durable, config);
    } catch (error) {
      if (!(error instanceof NatsError && error.api_error?.err_code === CONSUMER_NOT_FOUND)) throw error;
      await this.jsm.consumers.add(this.ns.heldStream, {
        ...config,
        durable_name: this.durable,
        deliver_policy: DeliverPolicy.All,
      });
    }
    this.consumer = await this.js.consumers.get(this.ns.heldStream, this.durable);
    return this.consumer;
  }
}
