import type { PushSubscription, PushSubscriptionEntry } from '../core/log-entry.ts';
import type { SendResult } from './channel.ts';
import type { Delivery } from './delivery.ts';

/**
 * What one try at pushing a delivery to one subscription came to: a `SendResult`, or `gone` when
 * the push service says the subscription no longer exists (404 or 410, RFC 8030 §7.3): it never
 * will again, so it is not tried again and is to be removed from the user's state.
 */
export type PushResult =
  SendResult | { readonly result: 'gone'; readonly status: number; readonly reason: string };

/**
 * Pushes one delivery to one Web Push subscription, once, under the same contract as
 * `ChannelSend`: a failure of the push service or of the subscription is a result, never a
 * rejection.
 */
export type Pusher = {
  push(delivery: Delivery, subscription: PushSubscription): Promise<PushResult>;
};

/**
 * Writes a `push_subscription` removal to the log, where the matcher applies it to the user's
 * state (the state changes only through the log, so live and replay agree). Contract: resolves once
 * the log has stored it; an entry whose id the log has seen is a repeat, dropped by the matcher.
 */
export type SubscriptionRemoval = (entry: PushSubscriptionEntry) => Promise<void>;
