import type { JetStreamManager } from 'nats';
import { nanos, RetentionPolicy, StorageType } from 'nats';
import type { Decision } from '../../core/decision.ts';
import type { Channel } from '../../core/message-schema.ts';
import type { Namespace } from '../../namespace.ts';
import type { DecisionSink, PositionedDecision } from '../../ports/decision-sink.ts';
import type { Delivery } from '../../ports/delivery.ts';
import type { Stored, StreamPublisher } from './jetstream-publisher.ts';
import { encodeValue, packId } from './packs.ts';
import { ensureStream } from './stream-info.ts';

/** Deliveries published again within a day (a batch redone after a crash or a lost lease) are dropped by JetStream. */
const DELIVERY_DEDUP_MS = 86_400_000;

/**
 * The deliveries stream: `<ns>.deliveries.<channel>`, one message per send with its rendered
 * content, for channel senders. Its duplicate window is a day, so a send is delivered once even
 * when the matcher publishes it again (a batch redone after a crash or a lost lease).
 */
export async function ensureDeliveriesStream(
  jsm: JetStreamManager,
  ns: Namespace,
  retentionDays = 7,
): Promise<void> {
  await ensureStream(jsm, ns, {
    name: ns.deliveriesStream,
    subjects: [`${ns.name}.deliveries.*`],
    storage: StorageType.File,
    retention: RetentionPolicy.Limits,
    max_age: nanos(retentionDays * 86_400_000),
    duplicate_window: nanos(DELIVERY_DEDUP_MS),
  });
}

/**
 * The matcher's decision sink: the decisions of a batch to their stream (`decisions`), and each
 * `sent` one to the deliveries stream of its channel with its content, both before the batch
 * commits (issue #20: deliveries leave with the decisions, where a forwarder used to read every
 * decision again to find the sends). A send held for later (one with `deliver_at`) goes to the
 * held stream instead, for the releaser to put on the deliveries stream when it is due (README
 * "Held sends"). A batch published again (a crash or a lost lease before the commit) makes the
 * same sends under the same ids, and JetStream drops them as duplicates for a day.
 */
export class DeliveringDecisionSink implements DecisionSink {
  constructor(
    private readonly decisions: DecisionSink,
    private readonly publisher: StreamPublisher,
    private readonly ns: Namespace,
  ) {}

  async publish(batch: readonly PositionedDecision[]): Promise<void> {
    const sent: Promise<unknown>[] = [this.decisions.publish(batch)];
    for (const { decision } of batch) if (decision.outcome === 'sent') sent.push(this.forward(decision));
    await Promise.all(sent);
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
    if (decision.deliver_at === undefined) return publishDelivery(this.publisher, this.ns, delivery);
    return this.publisher.publish(
      this.ns.heldSubject(decision.channel),
      encodeValue(delivery),
      deliveryMsgId(delivery),
    );
  }
}

/**
 * Puts a delivery on its channel's deliveries subject, under its `Nats-Msg-Id`: published again
 * within the duplicate window (a day), it is dropped.
 */
export function publishDelivery(
  publisher: StreamPublisher,
  ns: Namespace,
  delivery: Delivery,
): Promise<Stored> {
  // The channel is a decision's, copied by the matcher: one of the channels.
  return publisher.publish(
    ns.deliverySubject(delivery.channel as Channel),
    encodeValue(delivery),
    deliveryMsgId(delivery),
  );
}

/**
 * A delivery's `Nats-Msg-Id`, the same on the held and the deliveries streams: a digest, as an
 * entry id may hold what a header cannot (CR, LF, edge spaces); with the user, as a decision id
 * names an entry id, which is unique per user only (DESIGN §2).
 */
const deliveryMsgId = (delivery: Pick<Delivery, 'user_id' | 'decision_id'>): string =>
  packId('delivery', [delivery.user_id, delivery.decision_id]);

type SentDecision = Extract<Decision, { outcome: 'sent' }>;
