import type { ClickHouseClient } from '@clickhouse/client';
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { ident, sql } from '../../pipeline/adapters/clickhouse/sql.ts';
import type { ObservedKey } from '../../pipeline/adapters/redis/redis-event-catalog.ts';
import type { Namespace } from '../../pipeline/namespace.ts';
import { ApiError, ErrorBodySchema } from '../errors.ts';
import type { ScopeGuard } from '../server.ts';

export type CatalogDeps = {
  readonly clickhouse: ClickHouseClient;
  readonly ns: Namespace;
  readonly eventKeys: { keys(name: string): Promise<ObservedKey[]> };
};

const EventSummary = z
  .object({
    name: z.string(),
    entries: z.int().describe('distinct entries with this name in the audit'),
    last_seen: z.int().describe('ms since the epoch: the latest received_at'),
    metadata_keys: z
      .array(z.object({ key: z.string(), types: z.array(z.string()) }))
      .describe(
        'the usable keys seen (the first 20 of an entry), earliest place first, with the JSON types seen',
      ),
  })
  .meta({ id: 'EventSummary' });

/** `GET /v1/catalog/events`: what a person composing a message picks a trigger, a filter or a placeholder from. */
export function catalogRoutes(app: FastifyInstance, deps: CatalogDeps, guard: ScopeGuard): void {
  app.withTypeProvider<ZodTypeProvider>().get(
    '/v1/catalog/events',
    {
      onRequest: guard('read'),
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
      const query = sql`SELECT name, uniqExact(entry_id) AS entries, max(received_at) AS last_seen
        FROM ${ident(deps.ns.database)}.log_entries WHERE type = 'track'
        GROUP BY name ORDER BY entries DESC, name LIMIT ${request.query.limit}`.text;
      let rows: { name: string; entries: string; last_seen: string }[];
      try {
        rows = await (await deps.clickhouse.query({ query, format: 'JSONEachRow' })).json();
      } catch {
        throw new ApiError('audit_unavailable', 'the audit (ClickHouse) did not answer; retry shortly');
      }
      const keys = await Promise.all(rows.map((row) => deps.eventKeys.keys(row.name)));
      return {
        events: rows.map((row, i) => ({
          name: row.name,
          entries: Number(row.entries),
          last_seen: Number(row.last_seen),
          metadata_keys: (keys[i] ?? []).map(({ key, types }) => ({ key, types: [...types] })),
        })),
      };
    },
  );
}
