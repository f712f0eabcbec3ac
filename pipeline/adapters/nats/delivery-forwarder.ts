import type { JetStreamClient, JetStreamManager } from 'nats';
import { nanos, RetentionPolicy, StorageType } from 'nats';
import type { Decision } from '../../core/decision.ts';
import type { Namespace } from '../../namespace.ts';
import type { BatchReader } from '../../ports/batch-reader.ts';
import type { PositionedDecision } from '../../ports/decision-sink.ts';
import type { Delivery } from '../../ports/delivery.ts';
import type { DurableReaderOptions } from './durable-reader.ts';
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
 * acknowledged: a crash forwards the batch again, and the duplicates are dropped.
 */
export class DeliveryForwarder {
  private readonly reader: BatchReader<PositionedDecision>;

  constructor(
    private readonly js: JetStreamClient,
    jsm: JetStreamManager,
    private readonly ns: Namespace,
    options: DurableReaderOptions = {},
  ) {
    this.reader = decisionReader(js, jsm, ns, 'delivery_forwarder', options);
  }

  /** One batch: the number of sends forwarded (repeats included). */
  async step(maxMessages = 200): Promise<number> {
    const batch = await this.reader.next(maxMessages);
    const sends = batch.items.map((d) => d.decision).filter((d): d is SentDecision => d.outcome === 'sent');
    await Promise.all(sends.map((decision) => this.forward(decision)));
    batch.ack();
    return sends.length;
  }

  private forward(decision: SentDecision): Promise<unknown> {
    const delivery: Delivery = {
      decision_id: decision.decision_id,
      message_id: decision.message_id,
      message_version: decision.message_version,
      user_id: decision.user_id,
      channel: decision.channel,
      at: decision.at,
      subject: decision.content.subject,
      body: decision.content.body,
    };
    const body = encodeValue(delivery);
    // A digest: an entry id may hold what a header cannot (CR, LF, edge spaces).
    // The user too: a decision id names an entry id, which is unique per user only (DESIGN §2).
    const msgID = packId('delivery', [decision.user_id, decision.decision_id]);
    return this.js.publish(this.ns.deliverySubject(decision.channel), body, { msgID });
  }
}

type SentDecision = Extract<Decision, { outcome: 'sent' }>;
