import type { FastifyInstance, FastifyReply } from 'fastify';
import Fastify, { LogController } from 'fastify';
import { serializerCompiler, validatorCompiler } from 'fastify-type-provider-zod';
import type { AttributeKeys } from '../pipeline/ports/attribute-keys.ts';
import type { AuditReader } from '../pipeline/ports/audit-reader.ts';
import type { EntryLog } from '../pipeline/ports/entry-log.ts';
import type { EventKeys } from '../pipeline/ports/event-keys.ts';
import type { InAppOutcomes } from '../pipeline/ports/delivery.ts';
import type { DeliveryPublisher } from '../pipeline/ports/delivery-publisher.ts';
import type { InAppFeed, Inbox } from '../pipeline/ports/inbox.ts';
import type {
  ClientSecrets,
  KeyStore,
  UnsubscribeSecrets,
  VapidKeyStore,
} from '../pipeline/ports/key-store.ts';
import type { MessageCatalog } from '../pipeline/ports/message-catalog.ts';
import type { StateStore } from '../pipeline/ports/state-store.ts';
import type { ReplayRunner } from '../pipeline/replay/replay-runner.ts';
import type { NudgeMetrics } from '../pipeline/runtime/metrics.ts';
import { UnsubscribeLinks } from './auth/unsubscribe-links.ts';
import { errorAnswer } from './errors.ts';
import type { RateLimits } from './plugins/auth.plugin.ts';
import { authPlugin } from './plugins/auth.plugin.ts';
import { bodyPlugin } from './plugins/body.plugin.ts';
import { errorsPlugin } from './plugins/errors.plugin.ts';
import { metricsPlugin } from './plugins/metrics.plugin.ts';
import { openapiPlugin } from './plugins/openapi.plugin.ts';
import { auditRoutes } from './routes/audit/audit.routes.ts';
import { catalogRoutes } from './routes/catalog/catalog.routes.ts';
import { dashboardRoutes } from './routes/dashboard/dashboard.routes.ts';
import type { Readiness } from './routes/health/health.routes.ts';
import { healthRoutes } from './routes/health/health.routes.ts';
import { ingestRoutes } from './routes/ingest/ingest.routes.ts';
import { composerRoutes } from './routes/messages/composer.routes.ts';
import { messageRoutes } from './routes/messages/messages.routes.ts';
import { preferencesRoutes } from './routes/preferences/preferences.routes.ts';
import { replayRoutes } from './routes/replays/replays.routes.ts';
import { statsRoutes } from './routes/stats/stats.routes.ts';
import type { DemoPage } from './routes/demo/demo.routes.ts';
import { demoRoutes } from './routes/demo/demo.routes.ts';
import { sdkRoutes } from './routes/sdk/sdk.routes.ts';
import { linkLimitKey, unsubscribeRoutes } from './routes/unsubscribe/unsubscribe.routes.ts';
import { trackLimitKey, trackRoutes } from './routes/track/track.routes.ts';
import { LIMITS } from './routes/ingest/ingest.schemas.ts';

/** What the API is given: ports, never clients (the composition roots build the adapters). */
export type ApiDeps = {
  readonly log: EntryLog;
  readonly catalog: MessageCatalog;
  readonly audit: AuditReader;
  /** Read only: the API never holds a lease, it only looks. */
  readonly states: Pick<StateStore, 'load'>;
  readonly eventKeys: Pick<EventKeys, 'keys'>;
  /** The user attribute keys seen (recorded by `nudge start`'s audit writer). */
  readonly attributeKeys: Pick<AttributeKeys, 'attributes'>;
  readonly keys: KeyStore;
  /** The secret user hashes are made with (client keys, README "Show messages in your app"). */
  readonly clientSecrets: ClientSecrets;
  /** The secret unsubscribe links are signed with (by the email sender) and checked with (here). */
  readonly unsubscribeSecrets: UnsubscribeSecrets;
  /** The VAPID public key pages subscribe to push with (`nudge keys vapid`). */
  readonly vapid: Pick<VapidKeyStore, 'vapidKeys'>;
  /** Each user's in-app messages, and the feed of new ones every API process hears. */
  readonly inbox: Inbox;
  readonly feed: InAppFeed;
  /** Seen, dismissed and clicked, as pages report them; mail opens and push clicks, as their tracking links do. */
  readonly outcomes: InAppOutcomes;
  /** The deliveries stream, for test sends (the matcher puts every decided send there). */
  readonly deliveries: DeliveryPublisher;
  /** Origins pages may use the SDK from (`NUDGE_CLIENT_ORIGINS`; empty: any). */
  readonly clientOrigins: readonly string[];
  /** The demo page's user and key (`npm start`); without it `/demo` says how to start the demo. */
  readonly demo?: DemoPage;
  readonly replays: ReplayRunner;
  readonly ready: Readiness;
  readonly rateLimits: RateLimits;
  /** The process's metrics, served at /metrics (the matcher's too when `nudge start` runs both). */
  readonly metrics: NudgeMetrics;
  readonly partitions: number;
  /** The API's clock: `received_at` of every entry, and what relative times count back from. */
  readonly now: () => number;
  /** fastify's logger: off in tests, warnings and errors when run. */
  readonly logger?: boolean | { level: string };
};

/**
 * The HTTP API (DESIGN §7), built without listening: zod schemas validate every request and give
 * the TypeScript types and the OpenAPI document; plugins for errors, bodies, keys and the
 * document; the routes by area, each an encapsulated plugin given the ports it needs.
 */
export async function buildApi(deps: ApiDeps): Promise<FastifyInstance> {
  const app = Fastify({
    logger: deps.logger ?? false,
    // Errors are logged by the error handler; a line per request would be the ingest path's cost.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: LIMITS.bodyBytes,
    // Path ids are up to 256 characters (user ids), percent-encoded up to three bytes a character.
    routerOptions: { maxParamLength: LIMITS.idLength * 12 },
    frameworkErrors: (error, request, reply: FastifyReply) => {
      const { status, body } = errorAnswer(error, request);
      void reply.code(status).send(body);
    },
    // A body with a "__proto__" key, or "constructor" with "prototype" under it, never reaches a handler.
    onProtoPoisoning: 'error',
    onConstructorPoisoning: 'error',
  });
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  await app.register(errorsPlugin);
  await app.register(bodyPlugin);
  await app.register(openapiPlugin);
  const unsubscribeLinks = new UnsubscribeLinks(deps.unsubscribeSecrets);
  const [unsubscribeKey, trackKey] = [linkLimitKey(unsubscribeLinks), trackLimitKey(unsubscribeLinks)];
  await app.register(authPlugin, {
    keys: deps.keys,
    rateLimits: {
      ...deps.rateLimits,
      // Each looks at its own paths only and answers undefined for any other.
      apart: async (request) => (await unsubscribeKey(request)) ?? (await trackKey(request)),
    },
  });

  await app.register(healthRoutes, { ready: deps.ready });
  await app.register(metricsPlugin, { metrics: deps.metrics });
  await app.register(ingestRoutes, deps);
  await app.register(messageRoutes, deps);
  await app.register(composerRoutes, deps);
  await app.register(auditRoutes, deps);
  await app.register(preferencesRoutes, { ...deps, prefix: '/v1/users' });
  await app.register(catalogRoutes, deps);
  await app.register(statsRoutes, deps);
  await app.register(replayRoutes, deps);
  await app.register(dashboardRoutes);
  await app.register(sdkRoutes);
  await app.register(unsubscribeRoutes, { ...deps, links: unsubscribeLinks });
  await app.register(trackRoutes, { ...deps, links: unsubscribeLinks });
  await app.register(demoRoutes, deps.demo === undefined ? {} : { demo: deps.demo });
  await app.ready();
  return app;
}
