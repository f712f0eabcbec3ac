import type { FastifyPluginCallback } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { AuditReader, Bucket } from '../../../pipeline/ports/audit-reader.ts';
import { BUCKETS, SERIES_BY } from '../../../pipeline/ports/audit-reader.ts';
import type { MessageCatalog } from '../../../pipeline/ports/message-catalog.ts';
import { ServiceUnavailable } from '../../../pipeline/errors.ts';
import { ApiError, ErrorBodySchema } from '../../errors.ts';
import { RangeQuery, resolveRange } from './stats.schemas.ts';
import * as out from './stats.schemas.ts';

export type StatsDeps = {
  readonly audit: AuditReader;
  readonly catalog: MessageCatalog;
  readonly now: () => number;
};

/** Points a series may have: a finer bucket over a longer range is a 400 naming both. */
const MAX_POINTS = 10_000;

const errors = {
  400: ErrorBodySchema.describe('a parameter is wrong, or the query ran past its time limit'),
  401: ErrorBodySchema,
  403: ErrorBodySchema,
  503: ErrorBodySchema.describe('the analytics store (ClickHouse) did not answer'),
};

const tags = ['stats'];
const description =
  'Counted from the decisions in ClickHouse, every decision once. `from` and `to` (a half-open range of ' +
  'decision times) are integer ms since the epoch or ISO 8601; by default the last 7 days.';

/** `GET /v1/stats/…` (DESIGN §7): what analysts ask of the decisions, over ClickHouse. */
export const statsRoutes: FastifyPluginCallback<StatsDeps> = (app, deps, done) => {
  const routes = app.withTypeProvider<ZodTypeProvider>();
  const { audit } = deps;
  const range = (query: Parameters<typeof resolveRange>[0]) => resolveRange(query, deps.now());

  routes.get(
    '/v1/stats/summary',
    {
      onRequest: app.guard('read'),
      schema: {
        tags,
        summary: 'Totals: decisions by outcome and reason, triggering entries, users decided and reached',
        description,
        querystring: RangeQuery,
        response: { 200: out.Summary, ...errors },
      },
    },
    async (request) => audit.summary(range(request.query), request.query),
  );

  routes.get(
    '/v1/stats/series',
    {
      onRequest: app.guard('read'),
      schema: {
        tags,
        summary: 'Decisions over time, per minute, hour or day, split by outcome, reason, message or channel',
        description,
        querystring: RangeQuery.extend({
          bucket: z.enum(Object.keys(BUCKETS) as [Bucket, ...Bucket[]]).default('hour'),
          by: z.enum(SERIES_BY).default('outcome'),
        }),
        response: { 200: out.Series, ...errors },
      },
    },
    async (request) => {
      const { bucket, by } = request.query;
      const within = range(request.query);
      const points = Math.ceil((within.to - within.from) / BUCKETS[bucket]);
      if (points > MAX_POINTS)
        throw new ApiError(
          'invalid_request',
          `bucket: ${points} ${bucket}s in the range, at most ${MAX_POINTS}: use a coarser bucket or a shorter range`,
        );
      return audit.series(within, request.query, bucket, by);
    },
  );

  routes.get(
    '/v1/stats/messages',
    {
      onRequest: app.guard('read'),
      schema: {
        tags,
        summary:
          'Per message, on its channel: the funnel (triggering entries → passed filters → sent → delivered or failed, ' +
          'seen, clicked, dismissed), failure and suppression reasons, users reached',
        description:
          `${description} Delivered and failed are what the channel's sender reported (\`delivery_outcomes\`), ` +
          "with the commonest reasons of the failures; seen, clicked and dismissed what the user's pages reported of " +
          'in-app sends, seen (opened) what the open pixel of a mail reported, seen and clicked what the service worker ' +
          'of a push reported, each action counted once per send; mail opens are indicative (blocked images hide some, ' +
          'privacy proxies open others). Outcomes count by when they were reported, ' +
          'for the messages decided in the range.',
        querystring: RangeQuery,
        response: { 200: out.Messages, ...errors },
      },
    },
    async (request) => audit.messages(range(request.query), request.query),
  );

  routes.get(
    '/v1/stats/frequency',
    {
      onRequest: app.guard('read'),
      schema: {
        tags,
        summary: 'The over-messaging histogram: (user, UTC day) pairs by the number of sends they got',
        description,
        querystring: RangeQuery,
        response: { 200: out.Frequency, ...errors },
      },
    },
    async (request) => audit.frequency(range(request.query), request.query),
  );

  routes.get(
    '/v1/stats/deliveries',
    {
      onRequest: app.guard('read'),
      schema: {
        tags,
        summary: 'What senders reported: delivered or failed by channel, and latency from the entry',
        description: 'From `delivery_outcomes`; `from` and `to` bound the time of the outcome.',
        querystring: RangeQuery,
        response: { 200: out.Deliveries, ...errors },
      },
    },
    async (request) => audit.deliveries(range(request.query), request.query),
  );

  routes.get(
    '/v1/stats/goals',
    {
      onRequest: app.guard('read'),
      schema: {
        tags,
        summary:
          'Goal conversion of the messages that name a goal: users who got it against those who did not',
        description:
          'For each message with a `goal` (its latest version): of the users it was sent to in the range, those ' +
          'who did the goal event within `within` of their first send; of the users it was decided for but ' +
          'never sent to, those who did within `within` of their first triggering entry.',
        querystring: RangeQuery,
        response: { 200: out.Goals, ...errors },
      },
    },
    async (request) => {
      const catalog = await deps.catalog.read().catch((error: unknown) => {
        throw new ServiceUnavailable('catalog', 'the message catalog (NATS) did not answer; retry shortly', {
          cause: error,
        });
      });
      const named = catalog.messages.filter(
        (message) =>
          message.goal !== undefined &&
          (request.query.message === undefined || message.id === request.query.message) &&
          (request.query.channel === undefined || message.channel === request.query.channel),
      );
      return audit.goals(range(request.query), named);
    },
  );
  done();
};
