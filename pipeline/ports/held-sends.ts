import type { Delivery } from './delivery.ts';

/** A delivery held for later: one with its `deliver_at`. */
export type HeldDelivery = Delivery & { readonly deliver_at: number };

/**
 * A held send as the releaser takes it, with its own ack and nak (shaped like a JetStream
 * message): each is settled on its own, as each comes due at its own time.
 */
export type HeldSend = {
  readonly delivery: HeldDelivery;
  /** Done with it (released or cancelled): it never comes again. */
  ack(): void;
  /** Take it again after `delayMs`, not sooner (but for a process that dies holding it: then after a timeout). */
  nak(delayMs: number): void;
};

/**
 * The sends held until their `deliver_at` (README "Held sends"), kept durably until each is acked.
 * Contract: at least once: a held send not acked comes again, after its nak's delay or, when the
 * process that took it died, after a timeout; so releasing one must tolerate a repeat.
 */
export type HeldSends = {
  /**
   * Up to `max` held sends, each handed over as it arrives (new, or back after its delay); it ends
   * when `max` came, or after about a second.
   */
  take(max: number): AsyncIterable<HeldSend>;
};
