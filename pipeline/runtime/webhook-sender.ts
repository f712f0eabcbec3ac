import type { BatchReader } from '../ports/batch-reader.ts';
import type { SendResult } from '../ports/channel.ts';
import type { Delivery, DeliveryOutcome } from '../ports/delivery.ts';
import { ChannelSender } from './channel-sender.ts';

export type SenderOptions = {
  readonly reader: BatchReader<Delivery>;
  /** Sends one delivery; the HTTP status, 0 when unreachable. */
  readonly post: (delivery: Delivery) => Promise<number>;
  readonly record: (outcomes: readonly DeliveryOutcome[]) => Promise<void>;
  readonly now: () => number;
  readonly maxAttempts?: number;
  readonly backoffMs?: number;
  readonly report?: (line: string) => void;
};

/**
 * The reference sender for the `webhook` channel: a `ChannelSender` whose deliveries are POSTed to
 * the endpoint. A 2xx is delivered. A 4xx other than 408 and 429 is failed for good (the request
 * itself is wrong). Anything else (5xx, 408, 429, no answer) is tried again with backoff.
 */
export class WebhookSender {
  private readonly sender: ChannelSender;

  constructor(options: SenderOptions) {
    const { post, ...rest } = options;
    this.sender = new ChannelSender({
      ...rest,
      send: async (delivery) => webhookResult(await post(delivery)),
    });
  }

  /** One delivery: 1 when one was handled (delivered, failed, or put back to try later), 0 when there was none. */
  step(): Promise<number> {
    return this.sender.step();
  }
}

/** What an HTTP status means for a webhook delivery. */
export function webhookResult(status: number): SendResult {
  if (status >= 200 && status < 300) return { result: 'delivered', status };
  const transient = status === 0 || status === 408 || status === 429 || status >= 500;
  return {
    result: transient ? 'transient' : 'permanent',
    status,
    reason: status === 0 ? 'the endpoint could not be reached' : `the endpoint answered ${status}`,
  };
}
