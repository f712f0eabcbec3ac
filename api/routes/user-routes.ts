import type { ClickHouseClient } from '@clickhouse/client';
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { JetStreamManager } from 'nats';
import { z } from 'zod';
import { ident, raw, sql } from '../../pipeline/adapters/clickhouse/sql.ts';
import type { Sql } from '../../pipeline/adapters/clickhouse/sql.ts';
import { latestMessage, readCatalog } from '../../pipeline/adapters/nats/catalog-stream.ts';
import { compileCaps } from '../../pipeline/core/caps.ts';
import { eligibility } from '../../pipeline/core/eligibility.ts';
import { MessageIdSchema } from '../../pipeline/core/message-schema.ts';
import { partitionOf } from '../../pipeline/core/partition.ts';
import type { Namespace } from '../../pipeline/namespace.ts';
import type { StateStore } from '../../pipeline/ports/state-store.ts';
import { ApiError, ErrorBodySchema } from '../errors.ts';
import { LIMITS } from '../schemas/ingest-schemas.ts';
import type { ScopeGuard } from '../server.ts';

export type UserDeps = {
  readonly clickhouse: ClickHouseClient;
  readonly jsm: JetStreamManager;
  readonly ns: Namespace;
  readonly partitions: number;
  /** Read only: the API never holds a lease, it only looks. */
  readonly states: Pick<StateStore, 'load'>;
  readonly now: () => number;
};

const UserParams = z.object({ id: z.string().min(1).max(LIMITS.idLength) });
const errors = {
  400: ErrorBodySchema,
  401: ErrorBodySchema,
  403: ErrorBodySchema,
  404: ErrorBodySchema,
  503: ErrorBodySchema,
};

const DecisionsQuery = z.strictObject({
  message: MessageIdSchema.optional().describe('only this message'),
  outcome: z.enum(['sent', 'suppressed', 'filtered']).optional(),
  limit: z.coerce.number().int().min(1).max(500).default(50),
  before: z.string().max(1_000).optional().describe('the `next` cursor of the previous page'),
});

const AuditedDecision = z
  .object({
    decision_id: z.string(),
    entry_id: z.string(),
    message_id: z.string(),
    message_version: z.int(),
    channel: z.string(),
    at: z.int().describe('ms since the epoch: the entry’s received_at'),
    outcome: z.enum(['sent', 'suppressed', 'filtered']),
    reason: z.string().nullable(),
    content: z.object({ subject: z.string().nullable(), body: z.string() }).nullable(),
    explanation: z.string(),
    details: z.unknown().describe('the explanation, structured'),
  })
  .meta({ id: 'AuditedDecision' });

type Row = {
  decision_id: string;
  entry_id: string;
  message_id: string;
  message_version: number;
  channel: string;
  at: string;
  outcome: 'sent' | 'suppressed' | 'filtered';
  reason: string | null;
  subject: string | null;
  body: string | null;
  explanation: string;
  explanation_data: string;
};

// A cursor's id goes into SQL as UTF-8, which a lone surrogate has no encoding in.
const Cursor = z.tuple([z.int().nonnegative(), z.string().refine((id) => !/\p{Surrogate}/u.test(id))]);
const encodeCursor = (row: Row) =>
  Buffer.from(JSON.stringify([Number(row.at), row.decision_id])).toString('base64url');
function decodeCursor(text: string): [number, string] {
  try {
    return Cursor.parse(JSON.parse(Buffer.from(text, 'base64url').toString('utf8')));
  } catch {
    throw new ApiError('invalid_request', 'before: not a cursor this API gave (use the `next` of a page)');
  }
}

/** "Why did (or didn't) this user get this message?": the decisions audit and eligibility now. */
export function userRoutes(app: FastifyInstance, deps: UserDeps, guard: ScopeGuard): void {
  const routes = app.withTypeProvider<ZodTypeProvider>();

  routes.get(
    '/v1/users/:id/decisions',
    {
      onRequest: guard('read'),
      schema: {
        tags: ['audit'],
        summary: "A user's decisions, newest first, with explanations",
        description:
          'From the audit in ClickHouse: a decision appears there within about a second of being made. ' +
          'Pages of `limit`; pass `next` as `before` for the next page.',
        params: UserParams,
        querystring: DecisionsQuery,
        response: {
          200: z.object({ decisions: z.array(AuditedDecision), next: z.string().nullable() }),
          ...errors,
        },
      },
    },
    async (request) => {
      const { message, outcome, limit, before } = request.query;
      const filters: Sql[] = [sql`user_id = ${request.params.id}`];
      if (message !== undefined) filters.push(sql`message_id = ${message}`);
      if (outcome !== undefined) filters.push(sql`outcome = ${outcome}`);
      if (before !== undefined) {
        const [at, id] = decodeCursor(before);
        filters.push(sql`(at < ${at} OR (at = ${at} AND decision_id < ${id}))`);
      }
      // Fragments of `sql` templates only: every value in them is a quoted literal already.
      const where = raw(filters.map((f) => f.text).join(' AND '));
      const query =
        sql`SELECT decision_id, entry_id, message_id, message_version, channel, at, outcome, reason,
          subject, body, explanation, explanation_data
        FROM ${ident(deps.ns.database)}.decisions FINAL
        WHERE ${where} ORDER BY at DESC, decision_id DESC LIMIT ${limit + 1}`.text;
      const rows = await auditRows(deps.clickhouse, query);
      const page = rows.slice(0, limit);
      const last = page[page.length - 1];
      return {
        decisions: page.map((row) => ({
          decision_id: row.decision_id,
          entry_id: row.entry_id,
          message_id: row.message_id,
          message_version: row.message_version,
          channel: row.channel,
          at: Number(row.at),
          outcome: row.outcome,
          reason: row.reason,
          content: row.outcome === 'sent' ? { subject: row.subject, body: row.body ?? '' } : null,
          explanation: row.explanation,
          details: JSON.parse(row.explanation_data) as unknown,
        })),
        next: rows.length > limit && last !== undefined ? encodeCursor(last) : null,
      };
    },
  );

  routes.get(
    '/v1/users/:id/eligibility',
    {
      onRequest: guard('read'),
      schema: {
        tags: ['audit'],
        summary: 'Can this user get this message now? If not, why, and from when',
        description:
          "Answered from the user's state in Redis (as far as the matcher has decided) and the message in force. " +
          'The checks that do not depend on the triggering event, in decision order; the first that fails answers.',
        params: UserParams,
        querystring: z.strictObject({ message: MessageIdSchema }),
        response: {
          200: z.object({
            user_id: z.string(),
            message_id: z.string(),
            message_version: z.int(),
            at: z.int(),
            eligible: z.boolean(),
            reason: z.string().nullable(),
            eligible_at: z.int().nullable(),
            explanation: z.string(),
            details: z.unknown(),
          }),
          ...errors,
        },
      },
    },
    async (request) => {
      const userId = request.params.id;
      const message = await latestMessage(deps.jsm, deps.ns, request.query.message);
      if (message === undefined) throw new ApiError('not_found', `no message ${request.query.message}`);
      const { caps } = await readCatalog(deps.jsm, deps.ns);
      const loaded = await deps.states.load(partitionOf(userId, deps.partitions), [userId]);
      const answer = eligibility(loaded.states[0], message, compileCaps(caps), userId, deps.now());
      return {
        user_id: userId,
        message_id: message.id,
        message_version: answer.message_version,
        at: answer.at,
        eligible: answer.eligible,
        reason: answer.eligible ? null : answer.reason,
        eligible_at: answer.eligible ? answer.at : answer.eligible_at,
        explanation: answer.explanation,
        details: answer.eligible ? null : answer.details,
      };
    },
  );
}

/** The audit's rows; ClickHouse not answering (or its tables not made yet) is a 503 the client may retry. */
async function auditRows(clickhouse: ClickHouseClient, query: string): Promise<Row[]> {
  try {
    return await (await clickhouse.query({ query, format: 'JSONEachRow' })).json<Row>();
  } catch {
    // The service's own message stays in our logs: it names databases and hosts.
    throw new ApiError('audit_unavailable', 'the decisions audit (ClickHouse) did not answer; retry shortly');
  }
}
