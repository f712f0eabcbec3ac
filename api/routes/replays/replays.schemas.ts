import { z } from 'zod';
import { DurationSchema } from '../../../pipeline/core/duration.ts';
import { InstantSchema } from '../../../pipeline/core/instant.ts';
import { GlobalCapListSchema, MessageListSchema } from '../../../pipeline/core/message-schema.ts';
import { ErrorBodySchema } from '../../errors.ts';

const Instant = z
  .union([z.int().nonnegative(), InstantSchema])
  .describe('integer ms since the epoch, ISO 8601, or relative: "now", "now-2h", "now-7d"');

export const ReplayBody = z
  .strictObject({
    from: Instant,
    to: Instant,
    messages: MessageListSchema.optional().describe(
      'messages that replace those of the same id (or are new)',
    ),
    caps: GlobalCapListSchema.optional().describe('global caps that replace those recorded'),
    scope: z
      .enum(['all', 'affected'])
      .optional()
      .describe(
        '"affected": replay only the users who had an entry of an event that triggers one of `messages` ' +
          "(in the override or in any recorded version). Nobody else's decisions can change, so the flips, the users " +
          'affected and those messages\' counts are the same as with "all" (the default), in a fraction of the time; ' +
          "the other counts are of those users, and the report's `scope` says which and how many. " +
          'With `caps`, every user may be affected: the same as "all".',
      ),
  })
  .meta({ id: 'ReplayRequest' });

export const SweepBody = z
  .strictObject({
    from: Instant,
    to: Instant,
    message: z.string().optional().describe('the message whose limit is swept'),
    limit: z.enum(['min_interval', 'max_sends']).optional(),
    cap: z.int().nonnegative().optional().describe('the place of the global cap swept, from 0'),
    field: z.enum(['max', 'per']).optional(),
    values: z
      .array(z.union([DurationSchema, z.null()]))
      .min(1)
      .max(50)
      .describe(
        'durations ("15m", or ms) for min_interval and per; counts for max_sends (null: none) and max',
      ),
  })
  .meta({ id: 'SweepRequest' });

export const Started = z.object({ replay_id: z.string(), status: z.literal('running'), url: z.string() });

export const Record = z
  .object({
    replay_id: z.string(),
    kind: z.enum(['replay', 'sweep']),
    params: z.unknown(),
    status: z.enum(['running', 'done', 'failed']),
    entries_done: z.int(),
    entries_total: z.int(),
    report: z.unknown().describe('when done: the report (README, "Replaying the recorded log")'),
    error: z.string().nullable(),
    created_at: z.int(),
    updated_at: z.int(),
  })
  .meta({ id: 'Replay' });

export const errors = {
  400: ErrorBodySchema,
  401: ErrorBodySchema,
  403: ErrorBodySchema,
  404: ErrorBodySchema,
  429: ErrorBodySchema.describe('as many replays run as this API process allows: retry later'),
  503: ErrorBodySchema,
};
