import fastifyCors from '@fastify/cors';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { InAppOutcomes } from '../../../pipeline/ports/delivery.ts';
import type { InAppFeed, Inbox, InboxEntry } from '../../../pipeline/ports/inbox.ts';
import { INBOX_SIZE } from '../../../pipeline/ports/inbox.ts';
import type { ClientSecrets } from '../../../pipeline/ports/key-store.ts';
import type { NudgeMetrics } from '../../../pipeline/runtime/metrics.ts';
import { ApiError, ErrorBodySchema } from '../../errors.ts';
import type { ApiEntry } from '../ingest/ingest.schemas.ts';
import { SingleResultSchema } from '../ingest/ingest.schemas.ts';
import {
  ClientEventSchema,
  ClientIdentifySchema,
  InboxSchema,
  MarkParamsSchema,
  MarkResultSchema,
} from './client.schemas.ts';
import { clientCors } from './client-cors.ts';
import { LivePage, LivePages } from './live-pages.ts';
import type { PushDeps } from './push.routes.ts';
import { pushRoutes } from './push.routes.ts';
import { verifyUser } from './verified-user.ts';

export type ClientDeps = PushDeps & {
  /**
   * One entry through the ingest path (its ids, duplicates, counters and the log); `bodyText`, the
   * request's body, whose `metadata` is the entry's, gives the order of its keys as sent.
   */
  readonly ingest: (
    entry: ApiEntry,
    contentLength: string | undefined,
    bodyText?: string,
  ) => Promise<unknown>;
  readonly inbox: Inbox;
  readonly feed: InAppFeed;
  readonly outcomes: InAppOutcomes;
  readonly clientSecrets: ClientSecrets;
  /** Origins pages may call from; empty: any. */
  readonly clientOrigins: readonly string[];
  readonly now: () => number;
  readonly metrics: NudgeMetrics;
};

const errors = {
  400: ErrorBodySchema,
  401: ErrorBodySchema.describe('no client key, or no X-Nudge-User-Id and X-Nudge-User-Hash'),
  403: ErrorBodySchema.describe('user_not_verified: the user hash is wrong; forbidden: not a client key'),
  503: ErrorBodySchema,
};

const SECURITY = [{ apiKey: [] }];

/**
 * The routes a web page calls with a publishable `client` key, for the one user its user hash
 * proves (README "Show messages in your app"): track and identify for that user, its inbox, and
 * the stream of its in-app messages as they are sent. Any origin may call them, or only those of
 * `NUDGE_CLIENT_ORIGINS`.
 */
export const clientRoutes: FastifyPluginAsync<ClientDeps> = async (app, deps) => {
  app.decorateRequest('verifiedUser', null);
  await app.register(fastifyCors, clientCors(deps.clientOrigins, ['GET', 'POST', 'DELETE']));
  const checks = [app.guard('client'), verifyUser(deps.clientSecrets)];
  const userOf = (request: FastifyRequest): string => {
    if (request.verifiedUser === null) throw new Error('a client route ran without verifyUser');
    return request.verifiedUser;
  };
  const inboxCall = async <T>(call: () => Promise<T>): Promise<T> => {
    try {
      return await call();
    } catch {
      throw new ApiError('inbox_unavailable', 'the inbox (Redis) did not answer: retry');
    }
  };

  const pages = new LivePages(deps.metrics.inAppConnections);
  const unsubscribe = deps.feed.subscribe((notice) => {
    pages.deliver(notice);
  });
  // Before the server waits for its connections to end: a stream never ends by itself.
  app.addHook('preClose', (done) => {
    unsubscribe();
    pages.endAll();
    done();
  });

  pushRoutes(app, deps, { checks, userOf });
  const routes = app.withTypeProvider<ZodTypeProvider>();
  routes.post(
    '/events',
    {
      onRequest: checks,
      schema: {
        tags: ['client'],
        summary: 'Track an event for the verified user (from a page, with a client key)',
        security: SECURITY,
        body: ClientEventSchema,
        response: { 202: SingleResultSchema, ...errors },
      },
    },
    async (request, reply) => {
      const entry: ApiEntry = { type: 'track', user_id: userOf(request), ...request.body };
      const result = await deps.ingest(entry, request.headers['content-length'], request.jsonText);
      void reply.code(202);
      return result as z.output<typeof SingleResultSchema>;
    },
  );

  routes.post(
    '/identify',
    {
      onRequest: checks,
      schema: {
        tags: ['client'],
        summary: "Set the verified user's attributes (from a page, with a client key)",
        security: SECURITY,
        body: ClientIdentifySchema,
        response: { 202: SingleResultSchema, ...errors },
      },
    },
    async (request, reply) => {
      const entry: ApiEntry = { type: 'identify', user_id: userOf(request), ...request.body };
      const result = await deps.ingest(entry, request.headers['content-length']);
      void reply.code(202);
      return result as z.output<typeof SingleResultSchema>;
    },
  );

  routes.get(
    '/inbox',
    {
      onRequest: checks,
      schema: {
        tags: ['client'],
        summary: "The verified user's in-app messages, newest first (the last 100 of 30 days)",
        security: SECURITY,
        response: { 200: InboxSchema, ...errors },
      },
    },
    async (request) => ({
      messages: await inboxCall(() => deps.inbox.list(userOf(request), { limit: INBOX_SIZE })),
    }),
  );

  routes.post(
    '/inbox/:decision_id/:action',
    {
      onRequest: checks,
      schema: {
        tags: ['client'],
        summary: 'Mark an in-app message seen, dismissed or clicked (recorded in ClickHouse once)',
        security: SECURITY,
        params: MarkParamsSchema,
        response: { 200: MarkResultSchema, 404: ErrorBodySchema, ...errors },
      },
    },
    async (request) => {
      const user = userOf(request);
      const { decision_id, action } = request.params;
      const marked = await inboxCall(() => deps.inbox.mark(user, decision_id, action));
      if (marked === undefined)
        throw new ApiError('not_found', `no message ${decision_id} in this user's inbox`);
      const at = deps.now();
      // Recorded every time it is marked, not only the first: the table keeps one row per
      // decision and outcome, so a retry after a failed insert is never lost and never counted twice.
      await deps.outcomes
        .record([
          {
            decision_id,
            message_id: marked.entry.message_id,
            user_id: user,
            channel: marked.entry.channel,
            outcome: action,
            latency_ms: Math.max(0, at - marked.entry.at),
            at,
          },
        ])
        .catch(() => {
          throw new ApiError('audit_unavailable', 'the audit (ClickHouse) did not record it: retry');
        });
      return { decision_id, action, first: marked.first };
    },
  );

  routes.get(
    '/stream',
    {
      onRequest: checks,
      schema: {
        tags: ['client'],
        summary: "The verified user's in-app messages as they are sent (server-sent events)",
        description:
          'text/event-stream. With Last-Event-ID (an inbox seq), first every message after it. Then ' +
          '`event: ready` with `{"last_seq"}`, then `event: message` (id: its seq, data: an InboxEntry) ' +
          'as each is sent, never the same seq twice; a comment every 20 s.',
        security: SECURITY,
        headers: z.object({
          'last-event-id': z
            .string()
            .regex(/^\d{1,15}$/, 'the seq of the last message the page has (a whole number)')
            .optional(),
        }),
        response: { 200: z.string().describe('text/event-stream'), ...errors },
      },
    },
    async (request, reply) => {
      const user = userOf(request);
      const header = request.headers['last-event-id'];
      const after = typeof header === 'string' ? Number(header) : undefined;
      stream(reply, pages, deps.inbox, user, after, (error) => {
        request.log.warn({ err: error }, 'an in-app stream could not read the inbox');
      });
      return reply;
    },
  );
};

/**
 * Opens the stream of one page: listening first, then the inbox read, so a message sent in
 * between is not missed (it waits in the page, which sends nothing twice).
 */
function stream(
  reply: FastifyReply,
  pages: LivePages,
  inbox: Inbox,
  user: string,
  after: number | undefined,
  warn: (error: unknown) => void,
): void {
  void reply.hijack();
  const response = reply.raw;
  response.writeHead(200, {
    ...(reply.getHeaders() as Record<string, string>),
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache, no-transform',
    // nginx would otherwise hold the events back to fill its buffer.
    'x-accel-buffering': 'no',
  });
  response.flushHeaders();
  const page = new LivePage(user, response, after ?? 0);
  pages.add(page);
  response.on('close', () => {
    pages.remove(page);
  });
  const catchUp = async (): Promise<{ backlog: InboxEntry[]; newest: number }> => {
    if (after === undefined) {
      // A page that has nothing yet read the inbox itself (boot): it starts from the newest.
      const [newest] = await inbox.list(user, { limit: 1 });
      return { backlog: [], newest: newest?.seq ?? 0 };
    }
    const backlog = await inbox.list(user, { afterSeq: after, limit: INBOX_SIZE });
    return { backlog, newest: Math.max(after, ...backlog.map((entry) => entry.seq)) };
  };
  catchUp().then(
    ({ backlog, newest }) => {
      page.caughtUp(backlog, newest);
    },
    (error: unknown) => {
      // The page reconnects (with backoff) and asks again.
      warn(error);
      pages.remove(page);
      page.end();
    },
  );
}
