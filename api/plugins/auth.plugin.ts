import { createHash } from 'node:crypto';
import fastifyRateLimit from '@fastify/rate-limit';
import type { FastifyRateLimitStoreCtor } from '@fastify/rate-limit';
import type { FastifyRequest, onRequestAsyncHookHandler } from 'fastify';
import fastifyPlugin from 'fastify-plugin';
import type { ApiKeyRecord, KeyStore, Scope } from '../../pipeline/ports/key-store.ts';
import { Authenticator, requireScope } from '../auth/authenticator.ts';

export type RateLimits = {
  /** Where counts are kept: shared by every API process (Redis). */
  readonly store: FastifyRateLimitStoreCtor;
  /** Requests a minute for a key without its own rate. */
  readonly perKeyPerMinute: number;
  /** Requests a minute from one address without a valid key (what an attacker guessing keys gets). */
  readonly anonymousPerMinute: number;
  /**
   * The key of a request without an API key that is counted apart from its address (at
   * `anonymousPerMinute` too), or undefined to count it by address: a valid unsubscribe link,
   * whose one-click POSTs come from a mailbox provider's few servers for all its users.
   */
  readonly apart?: (request: FastifyRequest) => Promise<string | undefined>;
};

/**
 * A route's check of the request's API key, for one scope (or any of a few), as the route's own
 * `onRequest` hook: after the rate limit (a global `onRequest` hook), so guessing keys is limited
 * too, and before the body is inflated, read or checked, so a client without a key learns nothing
 * of the schema and never makes the server parse a large body.
 */
export type ScopeGuard = (scope: Scope | readonly Scope[]) => onRequestAsyncHookHandler;

declare module 'fastify' {
  interface FastifyInstance {
    /** The `onRequest` hook a route gives for the scope it needs. */
    guard: ScopeGuard;
    /** Checks a key sent in the body, where Segment's analytics.js sends its write key (`writeKey`). */
    checkKey: (key: string, scope: Scope) => Promise<ApiKeyRecord>;
  }
  interface FastifyRequest {
    /** The API key the request was authenticated with, once a guard has run. */
    apiKey: ApiKeyRecord | null;
    /** The valid key the rate limiter found on the request, if it found one (not yet checked for a scope). */
    identified: ApiKeyRecord | null;
  }
}

/** Probes, the documentation, the dashboard's, the SDK's and the demo's own files are never limited. */
const UNLIMITED = /^\/(healthz|readyz|metrics|openapi\.json|docs|dashboard|sdk|demo)(\/|\?|$)/;

/**
 * API keys with scopes, and rate limits (README "HTTP API"): `@fastify/rate-limit` decides, per
 * key (at the key's own rate) or per address for requests without a valid key, so guessing keys
 * is slow too; routes say the scope they need with `app.guard(scope)`.
 */
export const authPlugin = fastifyPlugin<{ keys: KeyStore; rateLimits: RateLimits }>(
  async (app, { keys, rateLimits }) => {
    const authenticator = new Authenticator(keys);
    const { perKeyPerMinute, anonymousPerMinute } = rateLimits;
    app.decorateRequest('apiKey', null);
    app.decorateRequest('identified', null);
    await app.register(fastifyRateLimit, {
      // Not per route: as a global hook (below), so it runs before every route's own key check.
      global: false,
      store: rateLimits.store,
      timeWindow: 60_000,
      // A CORS preflight carries no key: counted per address, a busy page's preflights would be refused.
      allowList: (request) => request.method === 'OPTIONS' || UNLIMITED.test(request.url),
      keyGenerator: (request) => {
        const authorization = request.headers.authorization;
        // A key checked lately is answered without a promise (the ingest path).
        const known = authenticator.known(authorization);
        if (known !== undefined) return limitKey(request, known, perKeyPerMinute);
        return authenticator.identify(authorization).then(async (record) => {
          const apart = record === undefined ? await rateLimits.apart?.(request) : undefined;
          return apart ?? limitKey(request, record, perKeyPerMinute);
        });
      },
      // The key carries its rate: no second lookup.
      max: (_request, key) =>
        key.startsWith('key:') ? Number(key.slice(key.lastIndexOf(':') + 1)) : anonymousPerMinute,
      errorResponseBuilder: (_request, context) => ({
        statusCode: context.statusCode,
        code: 'rate_limited',
        message: `rate limit of ${String(context.max)} requests a minute reached: retry in ${context.after}`,
      }),
    });
    app.addHook('onRequest', app.rateLimit());
    app.decorate(
      'guard',
      (scope: Scope | readonly Scope[]): onRequestAsyncHookHandler =>
        async (request: FastifyRequest) => {
          request.apiKey =
            request.identified === null
              ? await authenticator.check(request.headers.authorization, scope)
              : requireScope(request.identified, scope);
        },
    );
    app.decorate('checkKey', (key: string, scope: Scope) => authenticator.check(`Bearer ${key}`, scope));
  },
  { name: 'nudge-auth' },
);

/**
 * A request's rate-limit key: its API key's, carrying the key's rate, or its address's without a
 * valid key. The key found is kept on the request, so the route's guard checks its scope without
 * looking it up again.
 */
function limitKey(
  request: FastifyRequest,
  record: ApiKeyRecord | undefined,
  perKeyPerMinute: number,
): string {
  request.identified = record ?? null;
  if (record === undefined) return `ip:${request.ip}`;
  const rate = String(record.rate_per_minute ?? perKeyPerMinute);
  // Every page of a site shares its one client key: its rate is each user's, not the site's.
  if (record.scopes.includes('client')) {
    const user = request.headers['x-nudge-user-id'];
    const userKey = createHash('sha1')
      .update(typeof user === 'string' ? user : '')
      .digest('base64url');
    return `key:${record.id}:${userKey}:${rate}`;
  }
  return `key:${record.id}:${rate}`;
}
