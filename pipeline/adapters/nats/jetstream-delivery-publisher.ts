import type { JetStreamManager } from 'nats';
import type { Namespace } from '../../namespace.ts';
import type { Delivery } from '../../ports/delivery.ts';
import type { DeliveryPublisher } from '../../ports/delivery-publisher.ts';
import { ensureDeliveriesStream, publishDelivery } from './deliveries-stream.ts';
import type { StreamPublisher } from './jetstream-publisher.ts';

/**
 * Deliveries put on the deliveries stream directly (test sends), as the matcher and the held
 * sends' releaser put theirs (`publishDelivery`: same subject, same `Nats-Msg-Id`). The stream is
 * made on the first publish when no matcher or sender made it yet, with the configuration they
 * give it, so a test send works before either ever ran.
 */
export class JetStreamDeliveryPublisher implements DeliveryPublisher {
  private stream: Promise<void> | undefined;

  constructor(
    private readonly publisher: StreamPublisher,
    private readonly jsm: JetStreamManager,
    private readonly ns: Namespace,
  ) {}

  async publish(delivery: Delivery): Promise<void> {
    this.stream ??= ensureDeliveriesStream(this.jsm, this.ns).catch((error: unknown) => {
      // Asked again on the next publish: NATS may be back by then.
      this.stream = undefined;
      throw error;
    });
    await this.stream;
    await publishDelivery(this.publisher, this.ns, delivery);
  }
}
