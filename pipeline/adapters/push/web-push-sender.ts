import { createHash } from 'node:crypto';
import webpush from 'web-push';
import type { PushSubscription } from '../../core/log-entry.ts';
import type { Delivery } from '../../ports/delivery.ts';
import type { VapidKeys } from '../../ports/key-store.ts';
import type { Pusher, PushResult } from '../../ports/push.ts';

export type WebPushSenderOptions = {
  readonly vapid: VapidKeys;
  /** How long a push service keeps a message for a device that is offline, in seconds (a nudge a day old is stale). */
  readonly ttlSeconds?: number;
  readonly timeoutMs?: number;
  /**
   * The signed tracking link of a delivery (`{public URL}/v1/track/{token}`), sent as the
   * payload's `track`: the SDK's service worker POSTs `/seen` to it when it shows the
   * notification and `/click` when it is clicked. `nudge send push` always gives it; a rejection
   * (its secret could not be read) is a transient failure, and the delivery comes again.
   */
  readonly trackUrl?: (delivery: Delivery) => Promise<string>;
};

/** What the service worker receives, once decrypted: the delivery's content and what it answers to. */
export type PushPayload = {
  readonly decision_id: string;
  readonly message_id: string;
  readonly subject: string | null;
  readonly body: string;
  /** The tracking link the service worker reports `seen` and `clicked` to, when the sender gives one. */
  readonly track?: string;
};

/**
 * Pushes deliveries through the push services of the subscriptions (RFC 8030) with the `web-push`
 * library: the payload encrypted for the subscription's keys (RFC 8291, `aes128gcm`), the request
 * signed with the VAPID keys (RFC 8292). The push service's answer decides the result: 2xx
 * delivered; 404 and 410 gone (the subscription expired or was unsubscribed); 408, 429 and 5xx
 * transient, and so is no answer (refused, reset, timed out); any other 4xx permanent (the request
 * is wrong: a payload too large, keys the service refuses). A subscription that cannot be
 * encrypted for (keys of the wrong length or off the curve) or whose endpoint is not https is
 * permanent without a request.
 *
 * Web Push has no idempotency key; the nearest it has is the `Topic` header: a message waiting at
 * the push service for an offline device is replaced by a later one of the same topic. The topic is
 * made from the decision id, so a delivery pushed twice (a crash between the push service's 201
 * and the ack) reaches a device that was offline once; one that was online sees it twice.
 */
export class WebPushSender implements Pusher {
  private readonly vapidDetails: { subject: string; publicKey: string; privateKey: string };

  constructor(private readonly options: WebPushSenderOptions) {
    const { subject, public_key: publicKey, private_key: privateKey } = options.vapid;
    try {
      // Checks the subject and both keys now, rather than failing every delivery later.
      webpush.getVapidHeaders('https://push.invalid', subject, publicKey, privateKey, 'aes128gcm');
    } catch (error) {
      throw new Error(`the VAPID keys cannot sign requests: ${(error as Error).message}`, { cause: error });
    }
    this.vapidDetails = { subject, publicKey, privateKey };
  }

  async push(delivery: Delivery, subscription: PushSubscription): Promise<PushResult> {
    if (!isHttps(subscription.endpoint))
      return { result: 'permanent', status: 0, reason: 'the endpoint is not an https URL (RFC 8030)' };
    let track: string | undefined;
    try {
      track = await this.options.trackUrl?.(delivery);
    } catch {
      // The store's own message names hosts; failures are grouped by their reason.
      return {
        result: 'transient',
        status: 0,
        reason: 'the tracking link could not be signed (its secret was not read)',
      };
    }
    const payload = JSON.stringify(pushPayload(delivery, track));
    const options: webpush.RequestOptions = {
      vapidDetails: this.vapidDetails,
      TTL: this.options.ttlSeconds ?? 86_400,
      timeout: this.options.timeoutMs ?? 10_000,
      topic: topicOf(delivery.decision_id),
    };
    try {
      // Builds the request without sending it: what fails here is the subscription's keys, so a
      // failure of `sendNotification` below is the network's (its errors carry no class to tell).
      webpush.generateRequestDetails(subscription, payload, options);
    } catch (error) {
      return {
        result: 'permanent',
        status: 0,
        reason: `cannot encrypt for the subscription: ${(error as Error).message}`,
      };
    }
    try {
      const sent = await webpush.sendNotification(subscription, payload, options);
      return { result: 'delivered', status: sent.statusCode };
    } catch (error) {
      if (error instanceof webpush.WebPushError) return pushResult(error.statusCode, error.body);
      const code = (error as NodeJS.ErrnoException).code;
      const reason = `the push service could not be reached${code === undefined ? '' : ` (${code})`}`;
      return { result: 'transient', status: 0, reason };
    }
  }
}

/**
 * What a push service's answer other than 2xx means (RFC 8030 §7, §8.4). The reason names the
 * status (failures are grouped by it); the service's own words only for a request it refused,
 * where they say what was wrong (a JWT it did not take, a payload too large).
 */
export function pushResult(status: number, body: string): PushResult {
  const reason = `the push service answered ${status}`;
  if (status === 404 || status === 410) return { result: 'gone', status, reason };
  if (status === 408 || status === 429 || status >= 500) return { result: 'transient', status, reason };
  const said = body.replace(/\s+/g, ' ').trim().slice(0, 100);
  return { result: 'permanent', status, reason: said === '' ? reason : `${reason}: ${said}` };
}

export const pushPayload = (
  { decision_id, message_id, subject, body }: Delivery,
  track?: string,
): PushPayload => ({
  decision_id,
  message_id,
  subject,
  body,
  ...(track === undefined ? {} : { track }),
});

/** At most 32 characters of the URL-safe base64 alphabet (RFC 8030 §5.4). */
const topicOf = (decisionId: string) =>
  createHash('sha256').update(decisionId).digest('base64url').slice(0, 32);

const isHttps = (url: string) => URL.canParse(url) && new URL(url).protocol === 'https:';
