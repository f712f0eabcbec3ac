import type { BatchReader } from '../ports/batch-reader.ts';
import type { ChannelSend, SendResult } from '../ports/channel.ts';
import type { Delivery, DeliveryOutcome } from '../ports/delivery.ts';
import { sentAt } from '../ports/delivery.ts';

export type ChannelSenderOptions = {
  readonly reader: BatchReader<Delivery>;
  readonly send: ChannelSend;
  readonly record: (outcomes: readonly DeliveryOutcome[]) => Promise<void>;
  readonly now: () => number;
  readonly maxAttempts?: number;
  readonly backoffMs?: number;
  /** Told of each delivery that failed for good, with why (a line for the operator's log). */
  readonly report?: (line: string) => void;
};

/**
 * The most of a failure's reason `delivery_outcomes` keeps: the funnel groups failures by it, and an
 * SMTP server's reply can run to several lines.
 */
const MAX_REASON = 200;

/** A reason on one line, at most `MAX_REASON` characters. */
const reasonText = (reason: string): string => reason.replace(/\s+/g, ' ').trim().slice(0, MAX_REASON);

/**
 * A channel's sender: one delivery at a time, handed to the channel's `send`. Delivered is
 * recorded; a permanent failure is recorded as failed at once; a transient one is tried again
 * with exponential backoff (nak with a delay, capped at 30 s), up to `maxAttempts`, then recorded
 * as failed, with the channel's reason. The outcome is recorded before the delivery is acked, so none is lost; the
 * deliveries stream keeps a delivery until then. Tries are counted in memory: a sender that
 * restarts counts a delivery's tries from one again, which errs toward trying more, never less.
 */
export class ChannelSender {
  private readonly attempts = new Map<string, number>();

  constructor(private readonly options: ChannelSenderOptions) {}

  /** One delivery: 1 when one was handled (delivered, failed, or put back to try later), 0 when there was none. */
  async step(): Promise<number> {
    const { reader, send, maxAttempts = 5, backoffMs = 500 } = this.options;
    const batch = await reader.next(1);
    const delivery = batch.items[0];
    if (delivery === undefined) {
      batch.ack();
      return 0;
    }
    const attempt = (this.attempts.get(delivery.decision_id) ?? 0) + 1;
    const sent = await send(delivery);
    if (sent.result === 'transient' && attempt < maxAttempts) {
      this.attempts.set(delivery.decision_id, attempt);
      batch.nak(Math.min(30_000, backoffMs * 2 ** (attempt - 1)));
      return 1;
    }
    await this.record(delivery, attempt, sent);
    this.attempts.delete(delivery.decision_id);
    batch.ack();
    return 1;
  }

  private async record(delivery: Delivery, attempts: number, sent: SendResult): Promise<void> {
    const at = this.options.now();
    const outcome = sent.result === 'delivered' ? 'delivered' : 'failed';
    await this.options.record([
      {
        decision_id: delivery.decision_id,
        channel: delivery.channel,
        outcome,
        attempts,
        status: sent.status,
        reason: sent.result === 'delivered' ? '' : reasonText(sent.reason),
        latency_ms: Math.max(0, at - sentAt(delivery)),
        at,
      },
    ]);
    if (sent.result !== 'delivered')
      this.options.report?.(
        `${delivery.channel} ${delivery.decision_id}: failed after ${attempts} ${attempts === 1 ? 'try' : 'tries'} (${sent.status}: ${sent.reason})\n`,
      );
  }
}
