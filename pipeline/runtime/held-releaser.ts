import type { Message } from '../core/message-schema.ts';
import type { DeliveryOutcome } from '../ports/delivery.ts';
import type { HeldDelivery, HeldSend, HeldSends } from '../ports/held-sends.ts';

export type HeldReleaserOptions = {
  readonly held: HeldSends;
  /** Puts a due send on the deliveries stream; a repeat of one already there is dropped (its decision id). */
  readonly release: (delivery: HeldDelivery) => Promise<void>;
  /** The latest version of a message (its state now), undefined when the catalog has none. */
  readonly latest: (messageId: string) => Promise<Message | undefined>;
  /** Records cancelled sends (`delivery_outcomes`); storing one twice keeps it once. */
  readonly record: (outcomes: readonly DeliveryOutcome[]) => Promise<void>;
  readonly now: () => number;
  /**
   * The longest a held send waits before it is looked at again, ms: a send due later is put back
   * for at most this long, so a pause is seen (and the send cancelled) within it, and no delay the
   * stream is asked for is longer, however far the send is due.
   */
  readonly recheckMs?: number;
  /** How long a held send waits to be tried again when the catalog, the release or the record failed, ms. */
  readonly retryMs?: number;
  /** Told of each failure that puts a held send back (a line for the operator's log). */
  readonly report?: (line: string) => void;
};

/** An hour: a send held for a day is looked at 24 times, and a pause cancels within the hour. */
export const RECHECK_MS = 3_600_000;

type Lookup = (messageId: string) => Promise<Message | undefined>;
type Cancelled = { readonly held: HeldSend; readonly outcome: DeliveryOutcome };

/**
 * Releases held sends (README "Held sends"): each, when it comes, is cancelled if its message was
 * paused or stopped since its entry (`cancellation`), released to the deliveries stream if due by
 * this process's clock, else put back until it is due (or for `recheckMs` at most). Never early:
 * a send is released only when `now()` is at or past its `deliver_at`. At least once: a release
 * whose ack is lost (a crash between the two) is released again, and the deliveries stream drops
 * the repeat; a cancellation is recorded before its send is acked, so none is lost.
 */
export class HeldReleaser {
  constructor(private readonly options: HeldReleaserOptions) {}

  /** Up to `max` held sends: the number released or cancelled (those put back to wait are not counted). */
  async step(max = 200): Promise<number> {
    // The catalog is read once per message a step, however many of its sends come.
    const looked = new Map<string, Promise<Message | undefined>>();
    const lookup: Lookup = (id) => {
      let message = looked.get(id);
      if (message === undefined) {
        message = this.options.latest(id);
        looked.set(id, message);
      }
      return message;
    };
    const cancelled: Cancelled[] = [];
    const settling: Promise<number>[] = [];
    for await (const held of this.options.held.take(max)) settling.push(this.settle(held, lookup, cancelled));
    const released = (await Promise.all(settling)).reduce((sum, n) => sum + n, 0);
    return released + (await this.recordCancelled(cancelled));
  }

  /** 1 when released; 0 when put back, or cancelled (then recorded with the step's others). */
  private async settle(held: HeldSend, lookup: Lookup, cancelled: Cancelled[]): Promise<number> {
    const { recheckMs = RECHECK_MS } = this.options;
    const { delivery } = held;
    try {
      const why = cancellation(await lookup(delivery.message_id), delivery);
      const now = this.options.now();
      if (why !== undefined) {
        cancelled.push({ held, outcome: cancelledOutcome(delivery, why, now) });
        return 0;
      }
      if (now < delivery.deliver_at) {
        held.nak(Math.min(delivery.deliver_at - now, recheckMs));
        return 0;
      }
      await this.options.release(delivery);
      held.ack();
      return 1;
    } catch (error) {
      this.putBack([held], `held send ${delivery.decision_id}`, error);
      return 0;
    }
  }

  private async recordCancelled(cancelled: readonly Cancelled[]): Promise<number> {
    if (cancelled.length === 0) return 0;
    try {
      await this.options.record(cancelled.map((c) => c.outcome));
    } catch (error) {
      this.putBack(
        cancelled.map((c) => c.held),
        `${cancelled.length} cancelled held sends`,
        error,
      );
      return 0;
    }
    for (const { held } of cancelled) held.ack();
    return cancelled.length;
  }

  private putBack(held: readonly HeldSend[], what: string, error: unknown): void {
    const { retryMs = 1_000, report } = this.options;
    for (const send of held) send.nak(retryMs);
    report?.(`${what}: ${(error as Error).message}; tried again in ${retryMs} ms`);
  }
}

/**
 * Why a held send is not to be delivered, or undefined when it is: its message is no longer live
 * (paused, stopped, back to draft, or gone), or went live again after the send's entry (it was
 * paused or stopped in between). A live message edited since keeps its `live_since`: its held
 * sends go out, with the content rendered when they were decided.
 */
export function cancellation(message: Message | undefined, delivery: HeldDelivery): string | undefined {
  if (message === undefined) return 'the message is no longer in the catalog';
  switch (message.state) {
    case 'paused':
      return 'the message was paused before the send was due';
    case 'stopped':
      return 'the message was stopped before the send was due';
    case 'draft':
      return 'the message was set back to draft before the send was due';
    case 'live':
      return (message.live_since ?? 0) > delivery.at
        ? 'the message was paused or stopped, then launched again, before the send was due'
        : undefined;
  }
}

const cancelledOutcome = (delivery: HeldDelivery, reason: string, now: number): DeliveryOutcome => ({
  decision_id: delivery.decision_id,
  channel: delivery.channel,
  outcome: 'cancelled',
  attempts: 0,
  status: 0,
  reason,
  // Counted from when it was due: a send cancelled before then has 0.
  latency_ms: Math.max(0, now - delivery.deliver_at),
  at: now,
});
