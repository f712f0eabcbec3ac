import { z } from 'zod';
import { PushSubscriptionSchema } from '../../../pipeline/core/state-entries.ts';

/** A subscription's endpoint and keys as JSON, at most: a push service's are a few hundred bytes. */
export const SUBSCRIPTION_BYTES = 4_096;

export const PushKeySchema = z
  .object({
    public_key: z
      .string()
      .describe("the VAPID public key, base64url: pushManager.subscribe's applicationServerKey"),
  })
  .meta({ id: 'PushKey' });

export const PushSubscribeSchema = z
  .strictObject({
    subscription: PushSubscriptionSchema.describe(
      "the browser's PushSubscription.toJSON() without expirationTime: {endpoint, keys: {p256dh, auth}}",
    ),
  })
  .meta({ id: 'PushSubscribe' });

export const PushUnsubscribeSchema = z
  .strictObject({
    endpoint: PushSubscriptionSchema.shape.endpoint.describe('the endpoint of the subscription to remove'),
    keys: PushSubscriptionSchema.shape.keys
      .optional()
      .describe("its keys; when left out, the user's state gives them (the subscription must be applied)"),
  })
  .meta({ id: 'PushUnsubscribe' });

export const PushChangeSchema = z
  .object({
    id: z.string().describe('the id of the push_subscription entry on the log'),
    action: z.enum(['add', 'remove']),
    subscription: PushSubscriptionSchema,
  })
  .meta({ id: 'PushChange' });
