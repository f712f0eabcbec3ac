import { randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyRequest, onRequestAsyncHookHandler } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { PushSubscription, PushSubscriptionEntry } from '../../../pipeline/core/log-entry.ts';
import { partitionOf } from '../../../pipeline/core/partition.ts';
import type { EntryLog } from '../../../pipeline/ports/entry-log.ts';
import type { VapidKeyStore } from '../../../pipeline/ports/key-store.ts';
import type { StateStore } from '../../../pipeline/ports/state-store.ts';
import { appendEntry } from '../../append-entry.ts';
import { ApiError, ErrorBodySchema } from '../../errors.ts';
import {
  PushChangeSchema,
  PushKeySchema,
  PushSubscribeSchema,
  PushUnsubscribeSchema,
  SUBSCRIPTION_BYTES,
} from './push.schemas.ts';

export type PushDeps = {
  /** Where the `push_subscription` entries go: the matcher keeps each user's subscriptions. */
  readonly log: EntryLog;
  /** The deployment's VAPID keys (`nudge keys vapid`): pages need the public one to subscribe. */
  readonly vapid: Pick<VapidKeyStore, 'vapidKeys'>;
  /** Read only: a subscription's keys, when a page removes it by its endpoint alone. */
  readonly states: Pick<StateStore, 'load'>;
  readonly partitions: number;
  readonly now: () => number;
};

/** What the client routes check first (the key, then the user), and the user they proved. */
export type ClientChecks = {
  readonly checks: onRequestAsyncHookHandler[];
  readonly userOf: (request: FastifyRequest) => string;
};

const SECURITY = [{ apiKey: [] }];
const errors = {
  400: ErrorBodySchema,
  401: ErrorBodySchema.describe('no client key, or no X-Nudge-User-Id and X-Nudge-User-Hash'),
  403: ErrorBodySchema.describe('user_not_verified: the user hash is wrong; forbidden: not a client key'),
  503: ErrorBodySchema,
};

/**
 * Web Push for a page (README "Push notifications"): the VAPID public key its browser subscribes
 * with, and its subscriptions added and removed as `push_subscription` entries on the log, for
 * the verified user only, so the push sender and a replay know the same subscriptions.
 */
export function pushRoutes(app: FastifyInstance, deps: PushDeps, { checks, userOf }: ClientChecks): void {
  const routes = app.withTypeProvider<ZodTypeProvider>();
  routes.get(
    '/push/key',
    {
      onRequest: checks,
      schema: {
        tags: ['client'],
        summary: "The VAPID public key, pushManager.subscribe's applicationServerKey",
        security: SECURITY,
        response: {
          200: PushKeySchema,
          404: ErrorBodySchema.describe('push_not_configured: no VAPID keys yet (nudge keys vapid)'),
          ...errors,
        },
      },
    },
    async () => {
      const keys = await deps.vapid.vapidKeys().catch(() => {
        throw new ApiError('not_ready', 'the key store (Redis) did not answer: retry');
      });
      if (keys === undefined)
        throw new ApiError(
          'push_not_configured',
          'this deployment has no VAPID keys: run "nudge keys vapid --subject mailto:<address>" to make them',
        );
      return { public_key: keys.public_key };
    },
  );

  routes.post(
    '/push/subscriptions',
    {
      onRequest: checks,
      schema: {
        tags: ['client'],
        summary: "Add a browser's push subscription for the verified user (a push_subscription entry)",
        description:
          'Answers 202 once the log stored the entry; the matcher adds it to the user within about a second ' +
          '(a subscription with the same endpoint is replaced; a user keeps the 10 newest).',
        security: SECURITY,
        body: PushSubscribeSchema,
        response: { 202: PushChangeSchema, ...errors },
      },
    },
    async (request, reply) => {
      const { subscription } = request.body;
      const bytes = Buffer.byteLength(JSON.stringify(subscription));
      if (bytes > SUBSCRIPTION_BYTES)
        throw new ApiError(
          'invalid_request',
          `subscription: ${bytes} bytes as JSON, at most ${SUBSCRIPTION_BYTES} (a push service's are a few hundred)`,
        );
      const entry = await append(deps, userOf(request), 'add', subscription);
      void reply.code(202);
      return { id: entry.id, action: entry.action, subscription: entry.subscription };
    },
  );

  routes.delete(
    '/push/subscriptions',
    {
      onRequest: checks,
      schema: {
        tags: ['client'],
        summary: "Remove one of the verified user's push subscriptions, by its endpoint",
        description:
          'Answers 202 once the log stored the entry. Without `keys`, the subscription is looked up in the ' +
          "user's state: 404 when the user has none with this endpoint.",
        security: SECURITY,
        body: PushUnsubscribeSchema,
        response: { 202: PushChangeSchema, 404: ErrorBodySchema, ...errors },
      },
    },
    async (request, reply) => {
      const user = userOf(request);
      const { endpoint, keys } = request.body;
      const subscription = keys === undefined ? await stored(deps, user, endpoint) : { endpoint, keys };
      const entry = await append(deps, user, 'remove', subscription);
      void reply.code(202);
      return { id: entry.id, action: entry.action, subscription: entry.subscription };
    },
  );
}

async function append(
  deps: PushDeps,
  user: string,
  action: 'add' | 'remove',
  subscription: PushSubscription,
): Promise<PushSubscriptionEntry> {
  const entry: PushSubscriptionEntry = {
    type: 'push_subscription',
    id: randomUUID(),
    user_id: user,
    received_at: deps.now(),
    action,
    subscription: { endpoint: subscription.endpoint, keys: subscription.keys },
  };
  await appendEntry(deps.log, entry);
  return entry;
}

/** The user's subscription with this endpoint, as the matcher applied it, or a 404. */
async function stored(deps: PushDeps, user: string, endpoint: string): Promise<PushSubscription> {
  const loaded = await deps.states.load(partitionOf(user, deps.partitions), [user]).catch(() => {
    throw new ApiError('not_ready', 'the user states (Redis) did not answer: retry');
  });
  const found = loaded.states[0]?.push?.find((subscription) => subscription.endpoint === endpoint);
  if (found === undefined)
    throw new ApiError(
      'not_found',
      'this user has no push subscription with this endpoint (or its add is not applied yet: send its keys too)',
    );
  return found;
}
