import fastifyCompress from '@fastify/compress';
import fastifyRateLimit from '@fastify/rate-limit';
import fastifySwagger from '@fastify/swagger';
import fastifySwaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance, FastifyReply, FastifyRequest, onRequestAsyncHookHandler } from 'fastify';
import Fastify, { LogController } from 'fastify';
import type { Redis } from 'ioredis';
import {
  jsonSchemaTransform,
  jsonSchemaTransformObject,
  serializerCompiler,
  validatorCompiler,
} from 'fastify-type-provider-zod';
import type { ApiKeyRecord, Scope } from './auth/api-keys.ts';
import { MAX_BODY_DEPTH, nestsDeeperThan } from './schemas/nesting-depth.ts';
import { redisRateLimitStore } from './adapters/redis-rate-limit-store.ts';
import { Authenticator, requireScope } from './auth/authenticator.ts';
import type { NudgeMetrics } from '../pipeline/runtime/metrics.ts';
import { ApiError, errorAnswer, errorBody, errorHandler } from './errors.ts';
import { parseJsonBody } from './json-body.ts';
import { RouteDirectory } from './route-directory.ts';
import type { KeyStore } from './ports/key-store.ts';
import type { Readiness } from './routes/health-routes.ts';
import { healthRoutes } from './routes/health-routes.ts';
import type { IngestDeps } from './routes/ingest-routes.ts';
import { ingestRoutes } from './routes/ingest-routes.ts';
import type { MessageDeps } from './routes/message-routes.ts';
import { messageRoutes } from './routes/message-routes.ts';
import type { CatalogDeps } from './routes/catalog-routes.ts';
import { catalogRoutes } from './routes/catalog-routes.ts';
import { dashboardRoutes } from './routes/dashboard-routes.ts';
import type { ReplayDeps } from './routes/replay-routes.ts';
import { replayRoutes } from './routes/replay-routes.ts';
import type { StatsDeps } from './routes/stats-routes.ts';
import { statsRoutes } from './routes/stats-routes.ts';
import type { UserDeps } from './routes/user-routes.ts';
import { userRoutes } from './routes/user-routes.ts';
import type { z } from 'zod';
import { isWellFormedApiEntry } from './schemas/fast-entry-check.ts';
import { IngestBodySchema, LIMITS } from './schemas/ingest-schemas.ts';

export type RateLimits = {
  /** Counts are kept in Redis, so every API process shares them. */
  readonly redis: Redis;
  /** Requests a minute for a key without its own rate. */
  readonly perKeyPerMinute: number;
  /** Requests a minute from one address without a valid key (what an attacker guessing keys gets). */
  readonly anonymousPerMinute: number;
};

export type ApiDeps = IngestDeps &
  MessageDeps &
  UserDeps &
  CatalogDeps &
  StatsDeps &
  ReplayDeps & {
    readonly keys: KeyStore;
    readonly ready: Readiness;
    readonly rateLimits: RateLimits;
    /** The process's metrics, served at /metrics (the matcher's too when `nudge start` runs both). */
    readonly metrics: NudgeMetrics;
    /** fastify's logger: off in tests, warnings and errors when run. */
    readonly logger?: boolean | { level: string };
  };

const UNLIMITED = /^\/(healthz|readyz|metrics|openapi\.json|docs|dashboard)(\/|\?|$)/;

/**
 * A route's check of the request's API key, for one scope, as the route's own `onRequest` hook:
 * after the rate limit (a global `onRequest` hook), so guessing keys is limited too, and before
 * the body is inflated, read or checked, so a client without a key learns nothing of the schema
 * and never makes the server parse a large body.
 */
export type ScopeGuard = ((scope: Scope) => onRequestAsyncHookHandler) & {
  /** Checks a key sent in the body, where Segment's analytics.js sends its write key (`writeKey`). */
  readonly key: (key: string, scope: Scope) => Promise<ApiKeyRecord>;
};

declare module 'fastify' {
  interface FastifyRequest {
    /** The API key the request was authenticated with, once a guard has run. */
    apiKey: ApiKeyRecord | null;
    /** The valid key the rate limiter found on the request, if it found one (not yet checked for a scope). */
    identified: ApiKeyRecord | null;
  }
}

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
  return record === undefined
    ? `ip:${request.ip}`
    : `key:${record.id}:${String(record.rate_per_minute ?? perKeyPerMinute)}`;
}

/**
 * The HTTP API (DESIGN §7): zod schemas validate every request and give the TypeScript types and
 * the OpenAPI document (`/openapi.json`, with a page at `/docs`); every error has one shape.
 */
export async function buildApi(deps: ApiDeps): Promise<FastifyInstance> {
  const app = Fastify({
    logger: deps.logger ?? false,
    // Errors are logged by the error handler; a line per request would be the ingest path's cost.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: LIMITS.bodyBytes,
    // Path ids are up to 256 characters (user ids), percent-encoded up to three bytes a character.
    routerOptions: { maxParamLength: LIMITS.idLength * 12 },
    // A body with a "__proto__" key, or "constructor" with "prototype" under it, never reaches a
    // handler (fastify answers 400); a plain "constructor" key is data.
    frameworkErrors: (error, request, reply: FastifyReply) => {
      const { status, body } = errorAnswer(error, request);
      void reply.code(status).send(body);
    },
    onProtoPoisoning: 'error',
    onConstructorPoisoning: 'error',
  });
  // JSON only: a text/plain body is a 415, not a string that fails every schema. Our own JSON
  // parser says where a body breaks (fastify's names only its internal code).
  app.removeContentTypeParser(['text/plain', 'application/json']);
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, body, done) => {
    try {
      done(null, parseJsonBody(body as string));
    } catch (error) {
      done(error as Error, undefined);
    }
  });
  // Compressed request bodies (gzip, deflate), as tracking clients send batches: inflated as they
  // are read, so the body limit holds for the inflated body and a small bomb is a 413. Answers are
  // not compressed (the ingest path would pay for it on every request).
  await app.register(fastifyCompress, {
    globalCompression: false,
    globalDecompression: true,
    requestEncodings: ['gzip', 'deflate'],
    onUnsupportedRequestEncoding: (encoding) =>
      new ApiError(
        'unsupported_media_type',
        `content-encoding ${JSON.stringify(encoding)} is not read here: send the body as it is, or with gzip or deflate`,
      ),
    // Copied onto zlib's own error by the plugin: plain fields, so the message is copied too.
    onInvalidRequestPayload: (encoding) => ({
      name: 'InvalidRequestPayload',
      statusCode: 400,
      code: 'invalid_request',
      message: `the body is not valid ${encoding}: it could not be inflated`,
    }),
  });
  const routeDirectory = new RouteDirectory();
  app.addHook('onRoute', (route) => {
    for (const method of [route.method].flat()) routeDirectory.add(method, route.url);
  });
  // The ingest body: a well-formed entry passes the hand-written check (held to the schema by a
  // property test) without zod; anything else, and every other schema, goes through zod.
  app.setValidatorCompiler<z.core.$ZodType>((route) => {
    const validate = validatorCompiler(route);
    if (route.schema !== IngestBodySchema) return validate;
    return (data: unknown) => (isWellFormedApiEntry(data) ? { value: data } : validate(data));
  });
  // Ingest's own answers (built by our code, typed by their schemas) are written as they are: the
  // hot path; every other answer is encoded through its schema.
  app.setSerializerCompiler<z.core.$ZodType>((route) =>
    route.url === '/v1/events' || (route.url === '/v1/users/:id' && route.method === 'POST')
      ? (data) => JSON.stringify(data)
      : serializerCompiler(route),
  );
  app.setErrorHandler(errorHandler);
  // Before any schema: a body nested thousands deep would overflow the stack of the recursive
  // parse of conditions (or of the message quoting a refused value), a 500 for what a client sent.
  app.addHook('preValidation', (request, _reply, done) => {
    if (request.body !== undefined && nestsDeeperThan(request.body, MAX_BODY_DEPTH)) {
      done(
        new ApiError(
          'invalid_request',
          `the body nests deeper than ${MAX_BODY_DEPTH} levels of objects and arrays`,
        ),
      );
      return;
    }
    done();
  });
  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split('?')[0] ?? '';
    const methods = routeDirectory.methodsFor(path);
    if (methods.length > 0) {
      void reply
        .code(405)
        .header('allow', methods.join(', '))
        .send(
          errorBody(
            'method_not_allowed',
            `${request.method} is not allowed on ${path}: use ${methods.join(' or ')}`,
          ),
        );
      return;
    }
    const nearest = routeDirectory.nearest(path);
    void reply
      .code(404)
      .send(
        errorBody(
          'not_found',
          `no route ${request.method} ${path}${nearest === undefined ? '' : `: did you mean ${nearest}?`} (every route: /docs)`,
        ),
      );
  });
  app.decorateRequest('apiKey', null);
  app.decorateRequest('identified', null);

  await app.register(fastifySwagger, {
    openapi: {
      info: {
        title: 'Nudge',
        version: '0.1.0',
        description:
          'Event-triggered messaging with protection against over-messaging. Errors: { "error": { "code", "message", "details" } }.',
      },
      components: { securitySchemes: { apiKey: { type: 'http', scheme: 'bearer' } } },
      security: [{ apiKey: [] }],
    },
    transform: jsonSchemaTransform,
    transformObject: jsonSchemaTransformObject,
  });
  await app.register(fastifySwaggerUi, { routePrefix: '/docs' });

  const authenticator = new Authenticator(deps.keys);
  const { redis, perKeyPerMinute, anonymousPerMinute } = deps.rateLimits;
  // Per key, or per address for requests without a valid key, so guessing keys is slow too.
  await app.register(fastifyRateLimit, {
    // Not per route: as a global hook (below), so it runs before every route's own key check.
    global: false,
    store: redisRateLimitStore(redis, `${deps.ns.name}:ratelimit:`),
    timeWindow: 60_000,
    // Probes and the API's own documentation are never limited.
    allowList: (request) => UNLIMITED.test(request.url),
    keyGenerator: (request) => {
      const authorization = request.headers.authorization;
      // A key checked lately is answered without a promise (the ingest path).
      const known = authenticator.known(authorization);
      return known === undefined
        ? authenticator.identify(authorization).then((record) => limitKey(request, record, perKeyPerMinute))
        : limitKey(request, known, perKeyPerMinute);
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
  const guard: ScopeGuard = Object.assign(
    (scope: Scope): onRequestAsyncHookHandler =>
      async (request: FastifyRequest) => {
        request.apiKey =
          request.identified === null
            ? await authenticator.check(request.headers.authorization, scope)
            : requireScope(request.identified, scope);
      },
    { key: (key: string, scope: Scope) => authenticator.check(`Bearer ${key}`, scope) },
  );

  app.get('/openapi.json', { schema: { hide: true } }, () => app.swagger());
  healthRoutes(app, deps.ready);
  app.get(
    '/metrics',
    {
      schema: { tags: ['operations'], security: [], summary: 'Prometheus metrics (no key, like the probes)' },
    },
    async (_request, reply) => {
      void reply.header('content-type', deps.metrics.registry.contentType);
      return deps.metrics.registry.metrics();
    },
  );
  ingestRoutes(app, deps, guard);
  messageRoutes(app, deps, guard);
  userRoutes(app, deps, guard);
  catalogRoutes(app, deps, guard);
  statsRoutes(app, deps, guard);
  replayRoutes(app, deps, guard);
  dashboardRoutes(app);
  await app.ready();
  return app;
}
