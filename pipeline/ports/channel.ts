import type { Delivery } from './delivery.ts';

/**
 * What one try at sending a delivery came to, as a channel reports it. `status` is the channel's
 * own answer (the HTTP status for a webhook, the SMTP reply code for email; 0 when there was none:
 * unreachable, or never tried). `transient` may go through if tried again later; `permanent` never
 * will (the request or the recipient is wrong), so it is not tried again.
 */
export type SendResult =
  | { readonly result: 'delivered'; readonly status: number }
  | { readonly result: 'transient' | 'permanent'; readonly status: number; readonly reason: string };

/**
 * Sends one delivery once. Contract: a failure of the provider or the recipient is a result, never
 * a rejection; a rejection means the sender itself could not work (its own store is down), and the
 * delivery is left to come again. Called at least once per delivery: a channel that can give the
 * provider an idempotency key gives it `decision_id`.
 */
export type ChannelSend = (delivery: Delivery) => Promise<SendResult>;

/** Sends one delivery as a mail to one address, once, under the same contract as `ChannelSend`. */
export type Mailer = {
  send(delivery: Delivery, to: string): Promise<SendResult>;
};
