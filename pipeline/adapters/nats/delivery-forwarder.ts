import type { JetStreamClient, JetStreamManager, PubAck } from 'nats';
import { nanos, RetentionPolicy, StorageType } from 'nats';
import type { Decision } from '../../core/decision.ts';
import type { Channel } from '../../core/message-schema.ts';
import type { Namespace } from '../../namespace.ts';
import type { PositionedDecision } from '../../ports/decision-sink.ts';
import type { Delivery } from '../../ports/delivery.ts';
import type { DurableReaderOptions, JetStreamDurableReader } from './durable-reader.ts';
import { encodeValue, packId } from './packs.ts';
import { decisionReader } from './stream-readers.ts';
import { ensureStream } from './stream-info.ts';

/** Deliveries republished within a day (a crashed forwarder catching up) are dropped by JetStream. */
const DELIVERY_DEDUP_MS = 86_400_000;

/**
 * The deliveries stream: `<ns>.deliveries.<channel>`, one message per send with its rendered
 * content, for channel senders. Its duplicate window is a day, so a send is delivered once even
 * when the forwarder publishes it again after a crash.
 */
export async function ensureDeliveriesStream(
  jsm: JetStreamManager,
  ns: Namespace,
  retentionDays = 7,
): Promise<void> {
  await ensureStream(jsm, {
    name: ns.deliveriesStream,
    subjects: [`${ns.name}.deliveries.*`],
    storage: StorageType.File,
    retention: RetentionPolicy.Limits,
    max_age: nanos(retentionDays * 86_400_000),
    duplicate_window: nanos(DELIVERY_DEDUP_MS),
  });
}

/**
 * Forwards every `sent` decision of the decisions stream to the deliveries stream, with the
 * decision id as `Nats-Msg-Id`, acking a batch of decisions only once each of its deliveries is
 * acknowledged: a crash forwards the batch again, and the duplicates are dropped. A send held for
 * later (one with `deliver_at`) goes to the held stream instead, under the same id, for the
 * releaser to put on the deliveries stream when it is due (README "Held sends").
 */
export class DeliveryForwarder {
  private readonly reader: JetStreamDurableReader<PositionedDecision>;

  constructor(
    private readonly js: JetStreamClient,
    jsm: JetStreamManager,
    private readonly ns: Namespace,
    options: DurableReaderOptions = {},
  ) {
    this.reader = decisionReader(js, jsm, ns, 'delivery_forwarder', options);
  }

  /** One batch: the number of sends forwarded or held (repeats included). */
  async step(maxMessages = 200): Promise<number> {
    const batch = await this.reader.next(maxMessages);
    const sends = batch.items.map((d) => d.decision).filter((d): d is SentDecision => d.outcome === 'sent');
    await Promise.all(sends.map((decision) => this.forward(decision)));
    batch.ack();
    return sends.length;
  }

  /** Stops reading; what it took and did not forward comes again to another forwarder after the ack wait. */
  close(): void {
    this.reader.close();
  }

  private forward(decision: SentDecision): Promise<unknown> {
    const delivery: Delivery = {
      decision_id: decision.decision_id,
      message_id: decision.message_id,
      message_version: decision.message_version,
      user_id: decision.user_id,
      channel: decision.channel,
      at: decision.at,
      // Only on a held send: every other delivery is written as before.
      ...(decision.deliver_at === undefined ? {} : { deliver_at: decision.deliver_at }),
      subject: decision.content.subject,
      body: decision.content.body,
    };
    if (decision.deliver_at === undefined) return publishDelivery(this.js, this.ns, delivery);
    return this.js.publish(this.ns.heldSubject(decision.channel), encodeValue(delivery), {
      msgID: deliveryMsgId(delivery),
    });
  }
}

/**
 * Puts a delivery on its channel's deliveries subject, under its `Nats-Msg-Id`: published again
 * within the duplicate window (a day), it is dropped.
 */
export function publishDelivery(js: JetStreamClient, ns: Namespace, delivery: Delivery): Promise<PubAck> {
  // The channel is a decision's, copied by the forwarder: one of the channels.
  return js.publish(ns.deliverySubject(delivery.channel as Channel), encodeValue(delivery), {
    msgID: deliveryMsgId(delivery),
  });
}

/**
 * A delivery's `Nats-Msg-Id`, the same on the held and the deliveries streams: a digest, as an
 * entry id may hold what a header cannot (CR, LF, edge spaces); with the user, as a decision id
 * names an entry id, which is unique per user only (DESIGN §2).
 */
const deliveryMsgId = (delivery: Pick<Delivery, 'user_id' | 'decision_id'>): string =>
  packId('delivery', [delivery.user_id, delivery.decision_id]);

type SentDecision = Extract<Decision, { outcome: 'sent' }>;
