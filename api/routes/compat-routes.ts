import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { entryOfIntercomEvent } from '../compat/intercom-events.ts';
import { isRecord } from '../compat/records.ts';
import type { MappedCall } from '../compat/segment-calls.ts';
import { entryOfSegmentCall } from '../compat/segment-calls.ts';
import { ApiError, errorAnswer } from '../errors.ts';
import type { BatchResult } from '../schemas/ingest-schemas.ts';
import { BatchResultSchema, LIMITS } from '../schemas/ingest-schemas.ts';
import type { ScopeGuard } from '../server.ts';

/** The ingest routes' batch: entries checked, stamped and stored, a result per item (the request's `content-length` bounds their sizes). */
export type IngestEntries = (
  items: readonly unknown[],
  contentLength: string | undefined,
) => Promise<BatchResult>;

const Call = z.record(z.string(), z.unknown());
const SegmentAnswer = BatchResultSchema.extend({ success: z.literal(true) }).meta({ id: 'SegmentAnswer' });

/**
 * Drop-in ingestion for tracking code that already exists (issue #7): the Segment tracking spec
 * (`POST /v1/batch`, `/v1/track`, `/v1/identify`, the write key as HTTP Basic user, as Segment's
 * clients send it) and Intercom's Events API (`POST /events`, bearer token, Intercom's answers).
 * Both map their calls onto Nudge entries and go through the same checks, log and deduplication
 * as `POST /v1/events`; a call that cannot be mapped is refused with its reason while the rest of
 * the batch goes through.
 */
export function compatRoutes(app: FastifyInstance, ingest: IngestEntries, guard: ScopeGuard): void {
  const routes = app.withTypeProvider<ZodTypeProvider>();
  const segment = {
    preParsing: guard('ingest'),
    schema: {
      tags: ['compat'],
      response: { 200: SegmentAnswer },
    },
  };

  routes.post(
    '/v1/batch',
    {
      ...segment,
      schema: {
        ...segment.schema,
        summary: 'Segment: a batch of track and identify calls (the write key as Basic user)',
        body: z.looseObject({ batch: z.array(Call).max(LIMITS.batch) }),
      },
    },
    async (request) => {
      // The spec's batch-level context (and integrations) apply to every call without its own.
      const shared = request.body['context'];
      const calls = request.body.batch.map((call) =>
        isRecord(shared) && call['context'] === undefined ? { ...call, context: shared } : call,
      );
      return answered(
        await mapThenIngest(
          ingest,
          calls.map((c) => entryOfSegmentCall(c)),
          request.headers['content-length'],
        ),
      );
    },
  );

  for (const type of ['track', 'identify'] as const)
    routes.post(
      `/v1/${type}`,
      { ...segment, schema: { ...segment.schema, summary: `Segment: one ${type} call`, body: Call } },
      async (request) =>
        answered(
          await mapThenIngest(
            ingest,
            [entryOfSegmentCall(request.body, type)],
            request.headers['content-length'],
          ),
        ),
    );

  // Intercom's own shapes, answers and errors, so that code written for Intercom works unchanged.
  void app.register((scope, _options, done) => {
    scope.setErrorHandler(intercomErrors);
    scope.withTypeProvider<ZodTypeProvider>().post(
      '/events',
      {
        preParsing: guard('ingest'),
        schema: {
          tags: ['compat'],
          summary: "Intercom: submit a data event (202 with an empty body, as Intercom's API answers)",
          body: Call,
        },
      },
      async (request, reply) => {
        const result = await mapThenIngest(
          ingest,
          [entryOfIntercomEvent(request.body)],
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
  });
}

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
    return { ...result, index };
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
