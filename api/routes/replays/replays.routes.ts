import type { FastifyPluginCallback } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { InstantInput } from '../../../pipeline/core/instant.ts';
import { resolveInstant } from '../../../pipeline/core/instant.ts';
import type { SweepTarget } from '../../../pipeline/replay/replay-job.ts';
import type { ReplayRunner } from '../../../pipeline/replay/replay-runner.ts';
import { ApiError } from '../../errors.ts';
import { errors, Record, ReplayBody, Started, SweepBody } from './replays.schemas.ts';

export type ReplayDeps = {
  readonly replays: ReplayRunner;
  /** When a request is answered: what a relative `from` or `to` (`now-2h`, `now`) counts back from. */
  readonly now: () => number;
};

/** `POST /v1/replays`, `POST /v1/replays/sweep` (admin), `GET /v1/replays/:id` (read). */
export const replayRoutes: FastifyPluginCallback<ReplayDeps> = (app, deps, done) => {
  const routes = app.withTypeProvider<ZodTypeProvider>();
  const window = (body: { from: InstantInput; to: InstantInput }) => {
    const now = deps.now();
    return { from: resolveInstant(body.from, now), to: resolveInstant(body.to, now) };
  };
  const started = async (request: Parameters<ReplayRunner['start']>[0]) => {
    if (request.from >= request.to) throw new ApiError('invalid_request', 'from: must be before to');
    const replayId = await deps.replays.start(request).catch(() => {
      throw new ApiError(
        'replays_unavailable',
        'the recorded log (ClickHouse) did not answer; retry shortly',
      );
    });
    if (replayId === undefined)
      throw new ApiError('too_many_replays', 'as many replays run as this API process allows: retry later');
    return { replay_id: replayId, status: 'running' as const, url: `/v1/replays/${replayId}` };
  };

  routes.post(
    '/v1/replays',
    {
      onRequest: app.guard('admin'),
      schema: {
        tags: ['replays'],
        summary: 'Replay a window of the recorded log, as it ran or with messages or caps overridden',
        description:
          'Answers 202 at once; GET the url for progress and, when done, the report: identical or not, per message ' +
          'before → after, flipped decisions with explanations. The decisions are kept in replay_decisions.',
        body: ReplayBody,
        response: { 202: Started, ...errors },
      },
    },
    async (request, reply) => {
      const { messages, caps, scope } = request.body;
      const answer = await started({
        kind: 'replay',
        ...window(request.body),
        messages,
        caps,
        ...(scope === undefined ? {} : { scope }),
      });
      void reply.code(202);
      return answer;
    },
  );

  routes.post(
    '/v1/replays/sweep',
    {
      onRequest: app.guard('admin'),
      schema: {
        tags: ['replays'],
        summary:
          "Replay a window once per value of one limit: a message's min_interval or max_sends, or a cap's max or per",
        body: SweepBody,
        response: { 202: Started, ...errors },
      },
    },
    async (request, reply) => {
      const { values } = request.body;
      const answer = await started({
        kind: 'sweep',
        ...window(request.body),
        target: targetOf(request.body),
        values,
      });
      void reply.code(202);
      return answer;
    },
  );

  routes.get(
    '/v1/replays/:id',
    {
      onRequest: app.guard('read'),
      schema: {
        tags: ['replays'],
        summary: 'A replay: its progress, and its report once done',
        params: z.object({ id: z.string().regex(/^r_[0-9a-f]{16}$/, 'a replay id, r_ and 16 hex digits') }),
        response: { 200: Record, ...errors },
      },
    },
    async (request) => {
      const record = await deps.replays.get(request.params.id).catch(() => {
        throw new ApiError('replays_unavailable', 'the replays (ClickHouse) did not answer; retry shortly');
      });
      if (record === undefined) throw new ApiError('not_found', `no replay ${request.params.id}`);
      return record;
    },
  );
  done();
};

function targetOf(body: {
  message?: string | undefined;
  limit?: string | undefined;
  cap?: number | undefined;
  field?: string | undefined;
}): SweepTarget {
  if (body.message !== undefined && (body.limit === 'min_interval' || body.limit === 'max_sends'))
    return { message: body.message, limit: body.limit };
  if (body.cap !== undefined && (body.field === 'max' || body.field === 'per'))
    return { cap: body.cap, field: body.field };
  throw new ApiError(
    'invalid_request',
    'give message and limit (min_interval or max_sends), or cap and field (max or per)',
  );
}
