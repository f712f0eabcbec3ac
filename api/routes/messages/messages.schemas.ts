import { z } from 'zod';
import { MESSAGE_STATES, MessageIdSchema, MessageSchema } from '../../../pipeline/core/message-schema.ts';
import { ErrorBodySchema } from '../../errors.ts';

export const IdParams = z.object({ id: MessageIdSchema });

/** A stored version as it is read back: the definition (durations in ms), its version and live_since. */
export const StoredMessage = z
  .looseObject({
    id: z.string(),
    version: z.int(),
    state: z.enum(MESSAGE_STATES),
    live_since: z.int().nullable().optional(),
  })
  .meta({ id: 'StoredMessage' });

/** When each definition beside it was stored, ms since the epoch (the catalog's clock), in the same order. */
export const StoredAt = z
  .array(z.int())
  .describe('ms since the epoch: when the definition at the same place was stored (it last changed)');

export const CapsBody = z.object({
  caps: z.array(z.looseObject({ max: z.int(), per: z.int().describe('ms') })),
});

const Change = z.enum(['created', 'updated', 'unchanged']);
export const Stored = z.object({ change: Change, message: StoredMessage });

export const errors = {
  400: ErrorBodySchema,
  401: ErrorBodySchema,
  403: ErrorBodySchema,
  404: ErrorBodySchema,
  409: ErrorBodySchema,
};

export const MessageBody = MessageSchema.describe(
  'a message definition (README, "The message language"); its version is set by the store',
);

export const UpdateBody = MessageSchema.extend({ id: MessageIdSchema.optional() }).describe(
  'the whole new definition; the id, if given, must be the one in the path',
);
