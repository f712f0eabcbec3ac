import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { JetStreamClient } from 'nats';
import { z } from 'zod';
import type { EntryOutcome } from '../../pipeline/adapters/nats/log-stream.ts';
import { publishEntries } from '../../pipeline/adapters/nats/log-stream.ts';
import type { LogEntry } from '../../pipeline/core/log-entry.ts';
import { stampEntry } from '../../pipeline/core/log-entry.ts';
import { formatIssues } from '../../pipeline/core/validation.ts';
import type { Namespace } from '../../pipeline/namespace.ts';
import type { NudgeMetrics } from '../../pipeline/runtime/metrics.ts';
import { ApiError, ErrorBodySchema } from '../errors.ts';
import { isWellFormedApiEntry } from '../schemas/fast-entry-check.ts';
import type { ApiEntry } from '../schemas/ingest-schemas.ts';
import {
  ApiEntrySchema,
  BatchResultSchema,
  IdentifyBodySchema,
  IngestBodySchema,
  LIMITS,
  metadataWarnings,
  SingleResultSchema,
} from '../schemas/ingest-schemas.ts';
import type { ScopeGuard } from '../server.ts';

export type IngestDeps = {
  readonly js: JetStreamClient;
  readonly ns: Namespace;
  readonly partitions: number;
  /** The ingestion clock: `received_at` of every entry (an adapter's, never the core's). */
  readonly now: () => number;
  readonly metrics: NudgeMetrics;
};

type EntryResult = z.output<typeof BatchResultSchema>['results'][number];

const errors = {
  400: ErrorBodySchema.describe('the body breaks the contract; the message and details name each problem'),
  401: ErrorBodySchema,
  403: ErrorBodySchema,
  413: ErrorBodySchema.describe(`the body is over ${LIMITS.bodyBytes} bytes`),
  503: ErrorBodySchema.describe(
    'the log did not acknowledge the entries: nothing was accepted; retry with the same ids',
  ),
};

/** `POST /v1/events` (one entry or a batch) and `POST /v1/users/:id` (attributes, as an identify entry). */
export function ingestRoutes(app: FastifyInstance, deps: IngestDeps, guard: ScopeGuard): void {
  const routes = app.withTypeProvider<ZodTypeProvider>();

  routes.post(
    '/v1/events',
    {
      preParsing: guard('ingest'),
      schema: {
        tags: ['ingest'],
        summary: 'Ingest one entry, or a batch of up to 1,000',
        description:
          'Answers 202 only once JetStream has stored the entries. A batch gets a result per entry: accepted, ' +
          'duplicate (the same batch was stored before, or the id came earlier in this batch; a lone entry: ' +
          'its id was stored in the last 2 minutes) or rejected with the reason; the rest of the batch goes ' +
          'through. 400 when every entry of a batch is rejected.',
        body: IngestBodySchema,
        response: { 202: z.union([SingleResultSchema, BatchResultSchema]), ...errors },
      },
    },
    async (request, reply) => {
      const now = deps.now();
      const body = request.body;
      if (!('events' in body)) {
        void reply.code(202);
        return single(deps, body, now);
      }
      const result = await batch(deps, body.events, now);
      if (result.accepted + result.duplicates === 0)
        throw new ApiError(400, 'invalid_request', 'every entry of the batch was rejected', result.results);
      void reply.code(202);
      return result;
    },
  );

  routes.post(
    '/v1/users/:id',
    {
      preParsing: guard('ingest'),
      schema: {
        tags: ['ingest'],
        summary: "Set a user's attributes (an identify entry)",
        params: z.object({ id: z.string().min(1).max(LIMITS.idLength) }),
        body: IdentifyBodySchema,
        response: { 202: SingleResultSchema, ...errors },
      },
    },
    async (request, reply) => {
      const entry: ApiEntry = { type: 'identify', user_id: request.params.id, ...request.body };
      void reply.code(202);
      return single(deps, entry, deps.now());
    },
  );
}

async function single(deps: IngestDeps, input: ApiEntry, now: number) {
  const entry = stampEntry(input, randomUUID(), now);
  const [outcome] = await publish(deps, [entry]);
  deps.metrics.ingested.inc({ status: outcome === 'duplicate' ? 'duplicate' : 'accepted' });
  const warnings = metadataWarnings(input);
  return {
    id: entry.id,
    status: outcome === 'duplicate' ? ('duplicate' as const) : ('accepted' as const),
    received_at: now,
    ...(warnings.length > 0 ? { warnings } : {}),
  };
}

async function batch(deps: IngestDeps, items: readonly unknown[], now: number) {
  const results: EntryResult[] = [];
  const entries: LogEntry[] = [];
  const published: EntryResult[] = [];
  const ids = new Set<string>();
  items.forEach((item, index) => {
    const parsed = isWellFormedApiEntry(item)
      ? ({ success: true, data: item } as const)
      : ApiEntrySchema.safeParse(item);
    if (!parsed.success) {
      const details = formatIssues(parsed.error.issues);
      results.push({
        index,
        status: 'rejected',
        error: { code: 'invalid_entry', message: details.join('; '), details },
      });
      return;
    }
    const entry = stampEntry(parsed.data, randomUUID(), now);
    const warnings = metadataWarnings(parsed.data);
    const result: EntryResult = {
      index,
      id: entry.id,
      status: 'accepted',
      received_at: now,
      ...(warnings.length > 0 ? { warnings } : {}),
    };
    results.push(result);
    // The same id twice in one request is one entry: the first.
    if (ids.has(entry.id)) {
      result.status = 'duplicate';
      return;
    }
    ids.add(entry.id);
    entries.push(entry);
    published.push(result);
  });
  const outcomes = await publish(deps, entries);
  outcomes.forEach((outcome, i) => {
    const result = published[i];
    if (result !== undefined && outcome === 'duplicate') result.status = 'duplicate';
  });
  const count = (status: EntryResult['status']) => results.filter((r) => r.status === status).length;
  const counts = { accepted: count('accepted'), duplicates: count('duplicate'), rejected: count('rejected') };
  deps.metrics.ingested.inc({ status: 'accepted' }, counts.accepted);
  deps.metrics.ingested.inc({ status: 'duplicate' }, counts.duplicates);
  deps.metrics.ingested.inc({ status: 'rejected' }, counts.rejected);
  return { ...counts, results };
}

async function publish(deps: IngestDeps, entries: readonly LogEntry[]): Promise<EntryOutcome[]> {
  if (entries.length === 0) return [];
  try {
    return await publishEntries(deps.js, deps.ns, deps.partitions, entries);
  } catch {
    // The service's own message stays in our logs: it names databases and hosts.
    throw new ApiError(
      503,
      'log_unavailable',
      'the log (NATS JetStream) did not acknowledge the entries, so none is accepted: retry with the same ids',
    );
  }
}
