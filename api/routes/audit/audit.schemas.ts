import { z } from 'zod';
import { MessageIdSchema } from '../../../pipeline/core/message-schema.ts';
import { ErrorBodySchema } from '../../errors.ts';
import { LIMITS } from '../ingest/ingest.schemas.ts';

export const UserParams = z.object({ id: z.string().min(1).max(LIMITS.idLength) });

export const errors = {
  400: ErrorBodySchema,
  401: ErrorBodySchema,
  403: ErrorBodySchema,
  404: ErrorBodySchema,
  503: ErrorBodySchema,
};

export const DecisionsQuery = z.strictObject({
  message: MessageIdSchema.optional().describe('only this message'),
  outcome: z.enum(['sent', 'suppressed', 'filtered']).optional(),
  limit: z.coerce.number().int().min(1).max(500).default(50),
  before: z.string().max(1_000).optional().describe('the `next` cursor of the previous page'),
});

export const AuditedDecision = z
  .object({
    decision_id: z.string(),
    entry_id: z.string(),
    message_id: z.string(),
    message_version: z.int(),
    channel: z.string(),
    at: z.int().describe('ms since the epoch: the entry’s received_at'),
    deliver_at: z
      .int()
      .nullable()
      .describe(
        'ms since the epoch: when a send held for its schedule’s next opening (`schedule.outside: "defer"`) is delivered; null on every other decision',
      ),
    outcome: z.enum(['sent', 'suppressed', 'filtered']),
    reason: z.string().nullable(),
    content: z.object({ subject: z.string().nullable(), body: z.string() }).nullable(),
    explanation: z.string(),
    details: z.unknown().describe('the explanation, structured'),
  })
  .meta({ id: 'AuditedDecision' });

export const Eligibility = z.object({
  user_id: z.string(),
  message_id: z.string(),
  message_version: z.int(),
  at: z.int(),
  eligible: z.boolean(),
  reason: z.string().nullable(),
  eligible_at: z.int().nullable(),
  explanation: z.string(),
  details: z.unknown(),
});
