import type { FastifyInstance, FastifyPluginCallback } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { AuditReader } from '../../../pipeline/ports/audit-reader.ts';
import type { EventKeys } from '../../../pipeline/ports/event-keys.ts';
import { ErrorBodySchema } from '../../errors.ts';
import { EventSummary, RecentEntry, RecentParams, RecentQuery } from './catalog.schemas.ts';

export type CatalogDeps = {
  readonly audit: AuditReader;
  readonly eventKeys: Pick<EventKeys, 'keys'>;
};

/** `GET /v1/catalog/events`: what a person composing a message picks a trigger, a filter or a placeholder from. */
export const catalogRoutes: FastifyPluginCallback<CatalogDeps> = (app, deps, done) => {
  app.withTypeProvider<ZodTypeProvider>().get(
    '/v1/catalog/events',
    {
      onRequest: app.guard('read'),
      schema: {
        tags: ['catalog'],
        summary: 'The event names seen, with counts, last seen and their metadata keys',
        querystring: z.strictObject({ limit: z.coerce.number().int().min(1).max(1_000).default(200) }),
        response: {
          200: z.object({ events: z.array(EventSummary) }),
          401: ErrorBodySchema,
          403: ErrorBodySchema,
          503: ErrorBodySchema,
        },
      },
    },
    async (request) => {
      const seen = await deps.audit.events(request.query.limit);
      const keys = await Promise.all(seen.map((event) => deps.eventKeys.keys(event.name)));
      return {
        events: seen.map((event, i) => ({
          ...event,
          metadata_keys: (keys[i] ?? []).map(({ key, types }) => ({ key, types: [...types] })),
        })),
      };
    },
  );
  recent(app, deps);
  done();
};

/** The latest entries of one event: a composer previews a template with a real one. */
function recent(app: FastifyInstance, deps: CatalogDeps): void {
  app.withTypeProvider<ZodTypeProvider>().get(
    '/v1/catalog/events/:name/recent',
    {
      onRequest: app.guard('read'),
      schema: {
        tags: ['catalog'],
        summary: 'The latest track entries of an event name, newest first',
        description:
          "From the log's audit in ClickHouse (an entry appears there within about a second of being ingested): " +
          'each entry once, with its metadata and context as sent, for a template preview ' +
          '(`POST /v1/messages/preview`). An empty list when the name was never seen.',
        params: RecentParams,
        querystring: RecentQuery,
        response: {
          200: z.object({ entries: z.array(RecentEntry) }),
          400: ErrorBodySchema,
          401: ErrorBodySchema,
          403: ErrorBodySchema,
          503: ErrorBodySchema,
        },
      },
    },
    async (request) => ({
      entries: await deps.audit.recentEntries(request.params.name, request.query.limit),
    }),
  );
}
