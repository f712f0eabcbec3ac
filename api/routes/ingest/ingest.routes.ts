import { randomUUID } from 'node:crypto';
import type { FastifyPluginAsync } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { serializerCompiler, validatorCompiler } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { LogEntry } from '../../../pipeline/core/log-entry.ts';
import { needsSentOrder, stampEntry } from '../../../pipeline/core/log-entry.ts';
import { formatIssues, keysOf } from '../../../pipeline/core/validation.ts';
import type { JsonPath } from '../../../pipeline/json-in-sent-order.ts';
import { lazilyInSentOrder, orderFromText, orderLike } from '../../../pipeline/json-in-sent-order.ts';
import type { EntryLog, EntryOutcome } from '../../../pipeline/ports/entry-log.ts';
import type { NudgeMetrics } from '../../../pipeline/runtime/metrics.ts';
import { ApiError, ErrorBodySchema } from '../../errors.ts';
import type { ApiEntry } from './ingest.schemas.ts';
import type { ClientDeps } from '../client/client.routes.ts';
import { clientRoutes } from '../client/client.routes.ts';
import { compatRoutes } from '../compat/compat.routes.ts';
import { entryKey, RecentlyAccepted } from './recently-accepted.ts';
import {
  ApiEntrySchema,
  BatchResultSchema,
  IdentifyBodySchema,
  IngestBodySchema,
  isWellFormedApiEntry,
  LIMITS,
  metadataWarnings,
  SingleResultSchema,
} from './ingest.schemas.ts';

export type IngestDeps = Omit<ClientDeps, 'ingest'> & {
  /** Where accepted entries go: the log, packed across concurrent requests. */
  readonly log: EntryLog;
  /** The ingestion clock: `received_at` of every entry (an adapter's, never the core's). */
  readonly now: () => number;
  readonly metrics: NudgeMetrics;
};

type EntryResult = z.output<typeof BatchResultSchema>['results'][number];

/** What the ingest routes share: the log they append to, the ids they stored lately, their counters. */
type Ingest = IngestDeps & {
  readonly recent: RecentlyAccepted;
  /** `nudge_ingested_entries_total` by status, bound once (a label look-up per request otherwise). */
  readonly counted: Record<'accepted' | 'duplicate' | 'rejected', { inc(by?: number): void }>;
};

const errors = {
  400: ErrorBodySchema.describe('the body breaks the contract; the message and details name each problem'),
  401: ErrorBodySchema,
  403: ErrorBodySchema,
  413: ErrorBodySchema.describe(
    `the body is over ${LIMITS.bodyBytes} bytes, or its entry over ${LIMITS.entryBytes} bytes as JSON`,
  ),
  503: ErrorBodySchema.describe(
    'the log did not acknowledge the entries: nothing was accepted; retry with the same ids',
  ),
};

/**
 * `POST /v1/events` (one entry or a batch) and `POST /v1/users/:id` (attributes, as an identify
 * entry), the drop-in routes of Segment and Intercom and the pages' `/v1/client` routes, which
 * share their log, ids and counters.
 */
export const ingestRoutes: FastifyPluginAsync<IngestDeps> = async (app, deps) => {
  // The ingest body: a well-formed entry passes the hand-written check (held to the schema by a
  // property test) without zod; anything else goes through zod.
  app.setValidatorCompiler<z.core.$ZodType>((route) => {
    const validate = validatorCompiler(route);
    if (route.schema !== IngestBodySchema) return validate;
    return (data: unknown) => (isWellFormedApiEntry(data) ? { value: data } : validate(data));
  });
  // Ingest's own answers (built by our code, typed by their schemas) are written as they are: the
  // hot path.
  app.setSerializerCompiler<z.core.$ZodType>((route) =>
    route.url === '/v1/events' || route.url === '/v1/users/:id'
      ? (data) => JSON.stringify(data)
      : serializerCompiler(route),
  );
  const routes = app.withTypeProvider<ZodTypeProvider>();
  const ingest: Ingest = {
    ...deps,
    recent: new RecentlyAccepted(),
    counted: {
      accepted: deps.metrics.ingested.labels('accepted'),
      duplicate: deps.metrics.ingested.labels('duplicate'),
      rejected: deps.metrics.ingested.labels('rejected'),
    },
  };

  routes.post(
    '/v1/events',
    {
      onRequest: app.guard('ingest'),
      schema: {
        tags: ['ingest'],
        summary: 'Ingest one entry, or a batch of up to 1,000',
        description:
          'Answers 202 only once JetStream has stored the entries. A batch gets a result per entry: accepted, ' +
          'duplicate (this API process stored the id for this user in the last 2 minutes, or it came earlier ' +
          'in this batch) or rejected with the reason; the rest of the batch goes through. 400 when every ' +
          'entry of a batch is rejected. An id accepted twice is one entry either way: the matcher drops a ' +
          'repeat of an id it applied for the user in the last hour.',
        body: IngestBodySchema,
        response: { 202: z.union([SingleResultSchema, BatchResultSchema]), ...errors },
      },
    },
    async (request, reply) => {
      const now = deps.now();
      const body = request.body;
      if (!('events' in body)) {
        const result = await single(
          ingest,
          body,
          now,
          bodyBytes(request.headers['content-length']),
          request.jsonText,
        );
        void reply.code(202);
        return result;
      }
      const result = await batch(ingest, body.events, now, bodyBytes(request.headers['content-length']), {
        text: request.jsonText,
        path: ['events'],
      });
      if (result.accepted + result.duplicates === 0)
        throw new ApiError('invalid_request', 'every entry of the batch was rejected', result.results);
      void reply.code(202);
      return result;
    },
  );

  routes.post(
    '/v1/users/:id',
    {
      onRequest: app.guard('ingest'),
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
      const result = await single(ingest, entry, deps.now(), bodyBytes(request.headers['content-length']));
      void reply.code(202);
      return result;
    },
  );

  await app.register(compatRoutes, {
    ingest: (items, length) => batch(ingest, items, deps.now(), bodyBytes(length)),
  });
  await app.register(clientRoutes, {
    ...deps,
    prefix: '/v1/client',
    ingest: (entry, length, text) => single(ingest, entry, deps.now(), bodyBytes(length), text),
  });
};

/**
 * One entry, stored. `bodyText`: the request's body, whose `metadata` is the entry's; read again
 * only when JavaScript may have moved the usable keys (more than 20, one integer-like), for the
 * order they were sent in, which the log line then keeps.
 */
async function single(ingest: Ingest, input: ApiEntry, now: number, bodyBytes: number, bodyText = '') {
  if (input.type === 'track' && needsSentOrder(input.metadata))
    orderFromText(input.metadata, bodyText, ['metadata']);
  const stored = input.id === undefined ? undefined : ingest.recent.receivedAt(input.user_id, input.id, now);
  if (input.id !== undefined && stored !== undefined) {
    ingest.counted.duplicate.inc();
    return singleResult(input, input.id, 'duplicate', stored);
  }
  const entry = stampEntry(input, randomUUID, now);
  const size = oversize(entry, bodyBytes);
  if (size !== undefined) throw new ApiError('entry_too_large', size);
  const [outcome] = await append(ingest, [entry]);
  ingest.recent.remember(entry.user_id, entry.id, now);
  const status = outcome === 'duplicate' ? 'duplicate' : 'accepted';
  (status === 'duplicate' ? ingest.counted.duplicate : ingest.counted.accepted).inc();
  return singleResult(input, entry.id, status, now);
}

function singleResult(input: ApiEntry, id: string, status: 'accepted' | 'duplicate', receivedAt: number) {
  const warnings = metadataWarnings(input);
  return warnings.length > 0
    ? { id, status, received_at: receivedAt, warnings }
    : { id, status, received_at: receivedAt };
}

/**
 * Entries, each checked, stamped and stored. `body`: where the items sit in the request's body, read
 * again (once) for the order of the metadata keys of the rare entries whose usable keys JavaScript
 * may have moved; without it, an item's own metadata gives its order (a Segment or Intercom call
 * flattened in the order sent).
 */
async function batch(
  ingest: Ingest,
  items: readonly unknown[],
  now: number,
  bodyBytes: number,
  body?: { readonly text: string; readonly path: JsonPath },
) {
  const sent = body === undefined ? undefined : { read: lazilyInSentOrder(body.text), path: body.path };
  const results: EntryResult[] = [];
  const entries: LogEntry[] = [];
  const published: EntryResult[] = [];
  const ids = new Set<string>();
  items.forEach((item, index) => {
    const parsed = isWellFormedApiEntry(item)
      ? ({ success: true, data: item } as const)
      : ApiEntrySchema.safeParse(item);
    if (!parsed.success) {
      results.push(
        rejected(index, 'invalid_entry', formatIssues(parsed.error.issues, [], keysOf(ApiEntrySchema))),
      );
      return;
    }
    const input = parsed.data;
    if (input.type === 'track' && needsSentOrder(input.metadata)) {
      if (sent === undefined) orderLike(input.metadata, item, ['metadata']);
      else orderLike(input.metadata, sent.read, [...sent.path, index, 'metadata']);
    }
    const entry = stampEntry(input, randomUUID, now);
    const size = oversize(entry, bodyBytes);
    if (size !== undefined) {
      results.push(rejected(index, 'entry_too_large', [size]));
      return;
    }
    const warnings = metadataWarnings(parsed.data);
    const result: EntryResult = {
      index,
      id: entry.id,
      status: 'accepted',
      received_at: now,
      ...(warnings.length > 0 ? { warnings } : {}),
    };
    results.push(result);
    const stored =
      parsed.data.id === undefined ? undefined : ingest.recent.receivedAt(entry.user_id, entry.id, now);
    // The same id twice in one request is one entry: the first.
    const key = entryKey(entry.user_id, entry.id);
    if (stored !== undefined || ids.has(key)) {
      result.status = 'duplicate';
      if (stored !== undefined) result.received_at = stored;
      return;
    }
    ids.add(key);
    entries.push(entry);
    published.push(result);
  });
  const outcomes = await append(ingest, entries);
  outcomes.forEach((outcome, i) => {
    const result = published[i];
    const entry = entries[i];
    if (result === undefined || entry === undefined) return;
    ingest.recent.remember(entry.user_id, entry.id, now);
    if (outcome === 'duplicate') result.status = 'duplicate';
  });
  const count = (status: EntryResult['status']) => results.filter((r) => r.status === status).length;
  const counts = { accepted: count('accepted'), duplicates: count('duplicate'), rejected: count('rejected') };
  ingest.counted.accepted.inc(counts.accepted);
  ingest.counted.duplicate.inc(counts.duplicates);
  ingest.counted.rejected.inc(counts.rejected);
  return { ...counts, results };
}

const rejected = (index: number, code: string, details: string[]): EntryResult => ({
  index,
  status: 'rejected',
  error: { code, message: details.join('; '), details },
});

const bodyBytes = (contentLength: string | undefined): number =>
  contentLength === undefined ? Number.POSITIVE_INFINITY : Number(contentLength);

/**
 * Why an entry is too large for the log, if it is: a log message holds at most `PACK_BYTES`, so
 * an entry is at most `LIMITS.entryBytes` as JSON. Measured only when the body could hold one
 * that large (stamping adds less than the margin), so small requests never pay for it.
 */
function oversize(entry: LogEntry, bodyBytes: number): string | undefined {
  if (bodyBytes <= LIMITS.entryBytes - 1_024) return undefined;
  const bytes = Buffer.byteLength(JSON.stringify(entry));
  return bytes > LIMITS.entryBytes
    ? `the entry is ${bytes} bytes as JSON: at most ${LIMITS.entryBytes}`
    : undefined;
}

async function append(ingest: Ingest, entries: readonly LogEntry[]): Promise<EntryOutcome[]> {
  try {
    return await ingest.log.append(entries);
  } catch {
    // The service's own message stays in our logs: it names databases and hosts.
    throw new ApiError(
      'log_unavailable',
      'the log (NATS JetStream) did not acknowledge the entries, so none is accepted: retry with the same ids',
    );
  }
}
