import { z } from 'zod';
import { CHANNELS, MessageIdSchema } from '../../../pipeline/core/message-schema.ts';
import { ChannelChoicesSchema, MessageChoicesSchema } from '../../../pipeline/core/state-entries.ts';
import { ErrorBodySchema } from '../../errors.ts';
import { LIMITS } from '../ingest/ingest.schemas.ts';

export const UserParams = z.object({ id: z.string().min(1).max(LIMITS.idLength) });

/**
 * The messages a request names: message ids (a key that could name no message would be kept in
 * the user's state for good and honoured never), at most as many as an entry's attributes.
 */
const Messages = MessageChoicesSchema.superRefine((choices, context) => {
  const ids = Object.keys(choices);
  if (ids.length > LIMITS.keys)
    context.addIssue({
      code: 'custom',
      message: `at most ${LIMITS.keys} messages a request, got ${ids.length}`,
    });
  for (const id of ids)
    if (!MessageIdSchema.safeParse(id).success)
      context.addIssue({
        code: 'custom',
        path: [id],
        message: 'not a message id (1–128 letters, digits, "_", "-" and single inner ".")',
      });
});

/** A change of the user's choices: what it names changes, what it leaves out stays as it was. */
export const PreferencesChangeSchema = z
  .strictObject({
    channels: ChannelChoicesSchema.optional().describe(
      `by channel (${CHANNELS.join(', ')}): false opts out, true or null opts back in`,
    ),
    messages: Messages.optional().describe('by message id: false opts out, true or null opts back in'),
  })
  .refine(
    (change) => Object.keys(change.channels ?? {}).length + Object.keys(change.messages ?? {}).length > 0,
    {
      message: 'name at least one channel or message: an empty change changes nothing',
    },
  )
  .meta({ id: 'PreferencesChange' });
export type PreferencesChange = z.output<typeof PreferencesChangeSchema>;

/** The user's opt-outs: only what is `false` is listed (opted back in and never opted out look the same). */
export const PreferencesSchema = z
  .object({
    user_id: z.string(),
    channels: z.partialRecord(z.enum(CHANNELS), z.literal(false)),
    messages: z.record(z.string(), z.literal(false)),
  })
  .meta({ id: 'Preferences' });

export const PreferencesAcceptedSchema = z
  .object({
    id: z.string().describe('the id of the preferences entry on the log'),
    preferences: z.object({
      channels: z.partialRecord(z.enum(CHANNELS), z.boolean().nullable()),
      messages: z.record(z.string(), z.boolean().nullable()),
    }),
  })
  .meta({ id: 'PreferencesAccepted' });

export const errors = {
  400: ErrorBodySchema.describe('the change breaks the contract: an unknown channel, not a message id'),
  401: ErrorBodySchema.describe('no API key; or a client key without X-Nudge-User-Id and X-Nudge-User-Hash'),
  403: ErrorBodySchema.describe(
    'forbidden: neither an admin key nor a client key, or a client key for another user; ' +
      'user_not_verified: the user hash is wrong',
  ),
  413: ErrorBodySchema,
  503: ErrorBodySchema,
};
