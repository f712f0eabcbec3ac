import type { FastifyInstance, FastifyPluginCallback } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { AttributeKeys } from '../../../pipeline/ports/attribute-keys.ts';
import { ATTRIBUTE_KEYS_KEPT } from '../../../pipeline/ports/attribute-keys.ts';
import type { AuditReader } from '../../../pipeline/ports/audit-reader.ts';
import type { EventKeys } from '../../../pipeline/ports/event-keys.ts';
import { ErrorBodySchema } from '../../errors.ts';
import { AttributeSummary, EventSummary, RecentEntry, RecentParams, RecentQuery } from './catalog.schemas.ts';

export type CatalogDeps = {
  readonly audit: AuditReader;
  readonly eventKeys: Pick<EventKeys, 'keys'>;
  readonly attributeKeys: Pick<AttributeKeys, 'attributes'>;
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
  attributes(app, deps);
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

/** The attribute keys seen on users: what a composer's audience and its `{…}` placeholders offer. */
function attributes(app: FastifyInstance, deps: CatalogDeps): void {
  app.withTypeProvider<ZodTypeProvider>().get(
    '/v1/catalog/attributes',
    {
      onRequest: app.guard('read'),
      schema: {
        tags: ['catalog'],
        summary: 'The user attribute keys identify entries set, the most widespread first',
        description:
          "Recorded with the log's audit (within about a second of an entry being ingested, while " +
          '`nudge start` runs): each key with the JSON types of its values, the distinct users it was set ' +
          'on (approximate) and when it was last set; sorted by users, most first, then by key. Keys and ' +
          'types only, never a value. A key set to `null` removes the attribute and is not counted. At ' +
          `most ${ATTRIBUTE_KEYS_KEPT.toLocaleString('en-US')} keys are kept: a key first seen past that is not recorded.`,
        querystring: z.strictObject({ limit: z.coerce.number().int().min(1).max(1_000).default(200) }),
        response: {
          200: z.object({ attributes: z.array(AttributeSummary) }),
          400: ErrorBodySchema,
          401: ErrorBodySchema,
          403: ErrorBodySchema,
          503: ErrorBodySchema,
        },
      },
    },
    async (request) => ({
      attributes: (await deps.attributeKeys.attributes(request.query.limit)).map((attribute) => ({
        ...attribute,
        types: [...attribute.types],
      })),
    }),
  );
}
