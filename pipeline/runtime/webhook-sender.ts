import type { BatchReader } from '../ports/batch-reader.ts';
import type { Delivery, DeliveryOutcome } from '../ports/delivery.ts';

export type SenderOptions = {
  readonly reader: BatchReader<Delivery>;
  /** Sends one delivery; the HTTP status, 0 when unreachable. */
  readonly post: (delivery: Delivery) => Promise<number>;
  readonly record: (outcomes: readonly DeliveryOutcome[]) => Promise<void>;
  readonly now: () => number;
  readonly maxAttempts?: number;
  readonly backoffMs?: number;
};

/**
 * The reference sender for the `webhook` channel: one delivery at a time, POSTed to the endpoint.
 * A 2xx is delivered. A 4xx other than 408 and 429 is failed for good (the request itself is
 * wrong). Anything else is tried again with exponential backoff, up to `maxAttempts`, then failed.
 * The outcome is recorded before the delivery is acked, so none is lost; the deliveries stream
 * keeps a delivery until then.
 */
export class WebhookSender {
  private readonly attempts = new Map<string, number>();

  constructor(private readonly options: SenderOptions) {}

  /** One delivery: 1 when one was handled (delivered, failed, or put back to try later), 0 when there was none. */
  async step(): Promise<number> {
    const { reader, post, record, now, maxAttempts = 5, backoffMs = 500 } = this.options;
    const batch = await reader.next(1);
    const delivery = batch.items[0];
    if (delivery === undefined) {
      batch.ack();
      return 0;
    }
    const attempt = (this.attempts.get(delivery.decision_id) ?? 0) + 1;
    const status = await post(delivery);
    const delivered = status >= 200 && status < 300;
    const retryable = !delivered && (status === 0 || status === 408 || status === 429 || status >= 500);
    if (retryable && attempt < maxAttempts) {
      this.attempts.set(delivery.decision_id, attempt);
      batch.nak(Math.min(30_000, backoffMs * 2 ** (attempt - 1)));
      return 1;
    }
    const at = now();
    const outcome = delivered ? 'delivered' : 'failed';
    await record([
      {
        decision_id: delivery.decision_id,
        channel: delivery.channel,
        outcome,
        attempts: attempt,
        status,
        latency_ms: Math.max(0, at - delivery.at),
        at,
      },
    ]);
    this.attempts.delete(delivery.decision_id);
    batch.ack();
    return 1;
  }
}
