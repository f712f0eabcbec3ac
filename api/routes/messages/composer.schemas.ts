import { z } from 'zod';
import { USABLE_METADATA_KEYS } from '../../../pipeline/core/log-entry.ts';
import { MessageSchema, TemplateSchema } from '../../../pipeline/core/message-schema.ts';
import { ErrorBodySchema } from '../../errors.ts';
import { API_ENTRY, LIMITS } from '../ingest/ingest.schemas.ts';

const Scalars = z.record(z.string(), z.union([z.string(), z.number(), z.boolean(), z.null()]));

/** What a template is rendered with besides the user: an entry's metadata and context, as an entry carries them. */
const EntryFacts = {
  metadata: API_ENTRY.flat
    .optional()
    .describe(
      `as an entry carries it: only the first ${USABLE_METADATA_KEYS} keys, in the order sent, are usable`,
    ),
  context: API_ENTRY.flat.optional().describe('as an entry carries it (url, time_on_page_s, …)'),
};

export const PreviewBody = z
  .strictObject({
    template: TemplateSchema.describe('as in a message definition'),
    // "" too: a composer asks for a preview before a trigger event is picked.
    event: z
      .string()
      .max(LIMITS.idLength)
      .optional()
      .describe('what {{ event.name }} renders (the trigger event); "" when absent'),
    ...EntryFacts,
    user_id: API_ENTRY.id
      .optional()
      .describe("user.<key> renders this user's attributes, as the matcher has them; none when absent"),
  })
  .meta({ id: 'PreviewRequest' });

export const Preview = z.object({
  subject: z.string().nullable().describe('null when the template has no subject'),
  body: z.string(),
  user: Scalars.describe("the user's attributes the template was rendered with ({} without a user)"),
});

export const TestSendBody = z
  .strictObject({
    message: MessageSchema.describe(
      'a message definition as POST /v1/messages takes it, in any state (a draft included); it is not stored',
    ),
    user_id: API_ENTRY.id.describe('the one user sent to'),
    ...EntryFacts,
  })
  .meta({ id: 'TestSendRequest' });

export const TestSent = z.object({
  decision_id: z
    .string()
    .describe(
      "test/<message id>/<uuid>: the delivery's id, as senders and tracking links see it (left out of the stats)",
    ),
  channel: z.string(),
  user_id: z.string(),
  subject: z.string().nullable(),
  body: z.string(),
});

export const previewErrors = {
  400: ErrorBodySchema,
  401: ErrorBodySchema,
  403: ErrorBodySchema,
};

export const testSendErrors = {
  ...previewErrors,
  409: ErrorBodySchema.describe(
    'conflict: the user cannot be reached on the channel (no address) or opted out of it; details say which',
  ),
  503: ErrorBodySchema.describe('not_ready: NATS did not take the delivery; nothing was sent'),
};
