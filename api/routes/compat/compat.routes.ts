import fastifyCors from '@fastify/cors';
import type {
  FastifyError,
  FastifyPluginCallback,
  FastifyPluginAsync,
  FastifyReply,
  FastifyRequest,
} from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { ApiError, errorAnswer } from '../../errors.ts';
import { lazilyInSentOrder, valueAt } from '../../../pipeline/json-in-sent-order.ts';
import { parseJsonBody } from '../../json-body.ts';
import type { BatchResult } from '../ingest/ingest.schemas.ts';
import { BatchResultSchema, LIMITS } from '../ingest/ingest.schemas.ts';
import { entryOfIntercomEvent } from './intercom-events.ts';
import { isRecord } from './records.ts';
import type { MappedCall, SegmentType } from './segment-calls.ts';
import { entryOfSegmentCall, SEGMENT_TYPES } from './segment-calls.ts';

/** The ingest routes' batch: entries checked, stamped and stored, a result per item (the request's `content-length` bounds their sizes). */
export type IngestEntries = (
  items: readonly unknown[],
  contentLength: string | undefined,
) => Promise<BatchResult>;

const Call = z.record(z.string(), z.unknown());
const SegmentAnswer = BatchResultSchema.extend({ success: z.literal(true) }).meta({ id: 'SegmentAnswer' });
const SegmentBatch = z.looseObject({ batch: z.array(Call).max(LIMITS.batch) });

/** Segment's own limits (its HTTP API: 500 KB a batch request, 32 KB a call), on the inflated body. */
const SEGMENT_BATCH_BYTES = 512 * 1024;
const SEGMENT_CALL_BYTES = 32 * 1024;

const SEGMENT_PATHS = /^\/v1\/(batch|b|track|identify|page|screen|group|alias|t|i|p|s|g|a|m)(\?|$)/;

/** The single-call routes: the HTTP API's names, and the one-letter ones analytics.js posts to. */
const SEGMENT_CALL_ROUTES: readonly (readonly [string, SegmentType | undefined])[] = [
  ...SEGMENT_TYPES.map((type): [string, SegmentType] => [type, type]),
  ...SEGMENT_TYPES.map((type): [string, undefined] => [type.charAt(0), undefined]),
];

/**
 * Drop-in ingestion for tracking code that already exists (issue #7, #14): the Segment tracking
 * spec (`POST /v1/batch` and `/v1/b`, one call at `/v1/<type>` or analytics.js's `/v1/<t|i|p|s|g|a>`;
 * the write key as HTTP Basic user, a bearer token, or `writeKey` in the body as analytics.js sends
 * it) and Intercom's Events API (`POST /events`, bearer token, Intercom's answers). Both map their
 * calls onto Nudge entries and go through the same checks, log and deduplication as
 * `POST /v1/events`; a call that cannot be mapped is refused with its reason while the rest of the
 * batch goes through.
 */
export const compatRoutes: FastifyPluginAsync<{ ingest: IngestEntries }> = async (app, { ingest }) => {
  await app.register(segmentRoutes, { ingest });
  await app.register(intercomRoutes, { ingest });
};

/** Intercom's own shapes, answers and errors, so that code written for Intercom works unchanged. */
const intercomRoutes: FastifyPluginCallback<{ ingest: IngestEntries }> = (scope, { ingest }, done) => {
  scope.setErrorHandler(intercomErrors);
  scope.withTypeProvider<ZodTypeProvider>().post(
    '/events',
    {
      onRequest: scope.guard('ingest'),
      schema: {
        tags: ['compat'],
        summary: "Intercom: submit a data event (202 with an empty body, as Intercom's API answers)",
        body: Call,
      },
    },
    async (request, reply) => {
      const result = await mapThenIngest(
        ingest,
        [entryOfIntercomEvent(request.body, lazilyInSentOrder(request.jsonText))],
        request.headers['content-length'],
      );
      const refusal = result.results[0]?.error;
      if (result.rejected > 0 && refusal !== undefined)
        throw new ApiError('invalid_request', refusal.message, refusal.details);
      void reply.code(202);
      return reply.send();
    },
  );
  done();
};

/**
 * The Segment routes, in a scope of their own: they read any body as JSON whatever its declared
 * content type (analytics.js posts `text/plain` to avoid a CORS preflight, and Segment's API reads
 * it), answer browsers of any origin (CORS, as Segment's API does), and take the write key from
 * the body when no header carries one.
 */
const segmentRoutes: FastifyPluginAsync<{ ingest: IngestEntries }> = async (scope, { ingest }) => {
  scope.addContentTypeParser('*', { parseAs: 'string' }, (request, body, done) => {
    try {
      request.jsonText = body as string;
      done(null, parseJsonBody(body as string));
    } catch (error) {
      done(error as Error, undefined);
    }
  });
  // Its preflight route answers OPTIONS of every path: CORS only for the Segment paths, and every
  // other OPTIONS on to the not-found handler (a 405 in the error shape).
  await scope.register(
    fastifyCors,
    () => (request: FastifyRequest) =>
      Promise.resolve({
        origin: SEGMENT_PATHS.test(request.url) ? '*' : false,
        methods: ['POST'],
        maxAge: 86_400,
        strictPreflight: false,
      }),
  );
  const routes = scope.withTypeProvider<ZodTypeProvider>();
  const keyed = scope.guard('ingest');
  const common = {
    // A key in a header is checked before the body is read; a key in the body, once it is.
    onRequest: async (request: FastifyRequest, reply: FastifyReply) => {
      if (request.headers.authorization !== undefined) await keyed.call(scope, request, reply);
    },
    // Before the schema, so a request without any key is a 401 whatever its body.
    preValidation: async (request: FastifyRequest) => {
      if (request.apiKey !== null) return;
      const body: unknown = request.body;
      const writeKey = isRecord(body) ? body['writeKey'] : undefined;
      if (typeof writeKey !== 'string')
        throw new ApiError(
          'unauthorized',
          'an API key is required: as the HTTP Basic user (the write key), Authorization: Bearer <key>, or "writeKey" in the body',
        );
      request.apiKey = await scope.checkKey(writeKey, 'ingest');
    },
  };
  const schema = { tags: ['compat'], response: { 200: SegmentAnswer } };

  for (const path of ['/v1/batch', '/v1/b'])
    routes.post(
      path,
      {
        ...common,
        bodyLimit: SEGMENT_BATCH_BYTES,
        schema: {
          ...schema,
          summary: 'Segment: a batch of calls (track, identify, page, screen, group; alias is refused)',
          body: SegmentBatch,
        },
      },
      async (request) => {
        // The spec's batch-level context (and integrations) apply to every call without its own.
        const shared = request.body['context'];
        const calls = request.body.batch.map((call) =>
          isRecord(shared) && call['context'] === undefined ? { ...call, context: shared } : call,
        );
        const sent = lazilyInSentOrder(request.jsonText);
        return answered(
          await mapThenIngest(
            ingest,
            calls.map((c, i) => entryOfSegmentCall(c, undefined, () => valueAt(sent(), ['batch', i]))),
            request.headers['content-length'],
          ),
        );
      },
    );

  for (const [path, type] of SEGMENT_CALL_ROUTES)
    routes.post(
      `/v1/${path}`,
      {
        ...common,
        bodyLimit: SEGMENT_CALL_BYTES,
        schema: {
          ...schema,
          summary:
            type === undefined
              ? `Segment: one call of any type, as analytics.js posts it`
              : `Segment: one ${type} call`,
          body: Call,
        },
      },
      async (request) =>
        answered(
          await mapThenIngest(
            ingest,
            [entryOfSegmentCall(request.body, type, lazilyInSentOrder(request.jsonText))],
            request.headers['content-length'],
          ),
        ),
    );

  // analytics.js's own usage metrics: taken, and not kept (they are about the library, not users).
  scope.post('/v1/m', { schema: { hide: true }, bodyLimit: SEGMENT_CALL_BYTES }, async (_request, reply) => {
    void reply.code(200);
    return { success: true };
  });
};

/** Maps every call, stores what mapped, and answers a result per call in the calls' own order. */
async function mapThenIngest(
  ingest: IngestEntries,
  mapped: readonly MappedCall[],
  contentLength: string | undefined,
): Promise<BatchResult> {
  const entries = mapped.flatMap((m) => ('entry' in m ? [m.entry] : []));
  const stored = await ingest(entries, contentLength);
  let next = 0;
  const results = mapped.map((m, index) => {
    if ('problem' in m)
      return {
        index,
        status: 'rejected' as const,
        error: { code: 'unmapped_call', message: m.problem, details: [m.problem] },
      };
    const result = stored.results[next++];
    if (result === undefined) throw new Error('a stored entry without its result');
    const warnings = [...(m.warnings ?? []), ...(result.warnings ?? [])];
    return warnings.length === 0 ? { ...result, index } : { ...result, index, warnings };
  });
  const count = (status: string) => results.filter((r) => r.status === status).length;
  return {
    accepted: count('accepted'),
    duplicates: count('duplicate'),
    rejected: count('rejected'),
    results,
  };
}

/** Segment's clients take a 2xx as stored; a batch whose every call was refused is a 400 (not tried again). */
function answered(result: BatchResult) {
  if (result.accepted + result.duplicates === 0)
    throw new ApiError('invalid_request', 'no call of the request could be taken', result.results);
  return { success: true as const, ...result };
}

/** Intercom's names for what Nudge calls otherwise. */
const INTERCOM_CODES: Partial<Record<string, string>> = { invalid_request: 'parameter_invalid' };

/** Intercom's error list (`{"type": "error.list", "errors": [{"code", "message"}]}`), with the status Nudge chose. */
function intercomErrors(error: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  const { status, body } = errorAnswer(error, request);
  const code = INTERCOM_CODES[body.error.code] ?? body.error.code;
  void reply.code(status).send({
    type: 'error.list',
    request_id: request.id,
    errors: [{ code, message: body.error.message }],
  });
}
