import type { SendResult } from './channel.ts';
import type { Delivery } from './delivery.ts';

/**
 * An SMS provider: hands one delivery's text to one phone number, once. The `sms` channel
 * (`pipeline/runtime/sms-channel.ts`) finds the number and the sender retries; a provider only
 * says what one try came to. To add a provider, write an adapter implementing this and compose it
 * in `bin/send-command.ts`.
 *
 * Contract:
 * - Resolves, never rejects, for anything the provider or the network did: a rejection means the
 *   sender itself cannot work, and the delivery is left to come again untried.
 * - `delivered`: the provider took the message (for most, queued it for the carrier; what the
 *   handset got later is the provider's to report). `status` is the provider's answer (the HTTP
 *   status for an HTTP API), 0 when there was none.
 * - `transient`: may go through if tried again (rate limited, the provider failing, no answer in
 *   time). The sender tries again with backoff, so a transient result must be safe to repeat.
 * - `permanent`: never will (a bad number, a refused request, wrong credentials); recorded as
 *   failed at once. `reason` says why, in the provider's words when it gave some.
 * - Called at least once per delivery (a crash between the provider's answer and the ack sends it
 *   again): a provider that accepts an idempotency key is given `delivery.decision_id`, so it can
 *   drop the repeat.
 * - `to` is the number as the user's state holds it, trimmed; its format is the provider's to
 *   check (a number it refuses is `permanent`).
 */
export type SmsProvider = {
  send(delivery: Delivery, to: string): Promise<SendResult>;
};
