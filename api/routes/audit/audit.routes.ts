import type { FastifyInstance, FastifyPluginCallback } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { eligibility, eligibilityReport } from '../../../pipeline/core/eligibility.ts';
import { MessageIdSchema } from '../../../pipeline/core/message-schema.ts';
import { partitionOf } from '../../../pipeline/core/partition.ts';
import type { AuditReader } from '../../../pipeline/ports/audit-reader.ts';
import type { MessageCatalog } from '../../../pipeline/ports/message-catalog.ts';
import type { StateStore } from '../../../pipeline/ports/state-store.ts';
import { ApiError } from '../../errors.ts';
import { AuditedDecision, DecisionsQuery, Eligibility, errors, UserParams } from './audit.schemas.ts';

export type AuditDeps = {
  readonly audit: AuditReader;
  readonly catalog: MessageCatalog;
  readonly partitions: number;
  /** Read only: the API never holds a lease, it only looks. */
  readonly states: Pick<StateStore, 'load'>;
  readonly now: () => number;
};

// A cursor's id goes into SQL as UTF-8, which a lone surrogate has no encoding in.
const Cursor = z.tuple([z.int().nonnegative(), z.string().refine((id) => !/\p{Surrogate}/u.test(id))]);
const encodeCursor = (row: { at: number; decision_id: string }) =>
  Buffer.from(JSON.stringify([row.at, row.decision_id])).toString('base64url');
function decodeCursor(text: string): [number, string] {
  try {
    return Cursor.parse(JSON.parse(Buffer.from(text, 'base64url').toString('utf8')));
  } catch {
    throw new ApiError('invalid_request', 'before: not a cursor this API gave (use the `next` of a page)');
  }
}

/** "Why did (or didn't) this user get this message?": the decisions audit and eligibility now. */
export const auditRoutes: FastifyPluginCallback<AuditDeps> = (app, deps, done) => {
  decisions(app, deps);
  eligibilityNow(app, deps);
  done();
};

function decisions(app: FastifyInstance, deps: AuditDeps): void {
  app.withTypeProvider<ZodTypeProvider>().get(
    '/v1/users/:id/decisions',
    {
      onRequest: app.guard('read'),
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
      const cursor = before === undefined ? undefined : decodeCursor(before);
      const rows = await deps.audit.decisions(request.params.id, {
        message,
        outcome,
        // One more than a page: whether there is a next one.
        limit: limit + 1,
        before: cursor === undefined ? undefined : { at: cursor[0], decision_id: cursor[1] },
      });
      const page = rows.slice(0, limit);
      const last = page[page.length - 1];
      return {
        decisions: page.map((row) => ({
          decision_id: row.decision_id,
          entry_id: row.entry_id,
          message_id: row.message_id,
          message_version: row.message_version,
          channel: row.channel,
          at: row.at,
          deliver_at: row.deliver_at,
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
}

function eligibilityNow(app: FastifyInstance, deps: AuditDeps): void {
  app.withTypeProvider<ZodTypeProvider>().get(
    '/v1/users/:id/eligibility',
    {
      onRequest: app.guard('read'),
      schema: {
        tags: ['audit'],
        summary: 'Can this user get this message now? If not, why, and from when',
        description:
          "Answered from the user's state in Redis (as far as the matcher has decided) and the message in force. " +
          'The checks that do not depend on the triggering event, in decision order: the first that fails now is the reason, ' +
          "and eligible_at is the earliest time every check passes together (the schedule in the user's zone, max_sends, " +
          'min_interval, every global cap, sends held for later counted), or null when none does (the reason is then the check that never passes).',
        params: UserParams,
        querystring: z.strictObject({ message: MessageIdSchema }),
        response: { 200: Eligibility, ...errors },
      },
    },
    async (request) => {
      const userId = request.params.id;
      const inForce = await deps.catalog.compiled(request.query.message);
      if (inForce === undefined) throw new ApiError('not_found', `no message ${request.query.message}`);
      const loaded = await deps.states.load(partitionOf(userId, deps.partitions), [userId]);
      const { message, compiled, caps } = inForce;
      const answer = eligibility(loaded.states[0], message, caps, userId, deps.now(), compiled);
      return eligibilityReport(userId, message.id, answer);
    },
  );
}
