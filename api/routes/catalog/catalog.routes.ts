import type { FastifyPluginCallback } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { AuditReader } from '../../../pipeline/ports/audit-reader.ts';
import type { EventKeys } from '../../../pipeline/ports/event-keys.ts';
import { ErrorBodySchema } from '../../errors.ts';
import { EventSummary } from './catalog.schemas.ts';

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
  done();
};
