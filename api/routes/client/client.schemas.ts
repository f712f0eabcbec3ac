import { z } from 'zod';
import { INBOX_ACTIONS, IN_APP_CHANNELS } from '../../../pipeline/ports/inbox.ts';
import { API_ENTRY } from '../ingest/ingest.schemas.ts';

const { id: Id, flat: Flat } = API_ENTRY;

/** A track entry as a page sends it: the user is the verified one, never the body's. */
export const ClientEventSchema = z
  .strictObject({
    id: Id.optional().describe('your idempotency key (generated when absent)'),
    name: Id.describe('the event name'),
    created_at: z.int().nonnegative().optional().describe("the page's own time of the event: stored only"),
    metadata: Flat.optional().describe('flat scalars; the first 20 keys are usable in rules'),
    context: Flat.optional().describe('page context: the SDK sends url and time_on_page_s'),
  })
  .meta({ id: 'ClientEvent' });

export const ClientIdentifySchema = z
  .strictObject({
    id: Id.optional(),
    attributes: Flat.describe("merged into the user's attributes; a key set to null removes it"),
  })
  .meta({ id: 'ClientAttributes' });

export const InboxEntrySchema = z
  .object({
    decision_id: z.string(),
    message_id: z.string(),
    channel: z.enum(IN_APP_CHANNELS),
    subject: z.string().nullable(),
    body: z.string(),
    at: z.int().describe('when it was sent, ms'),
    seq: z.int().describe("its place in the user's inbox (1, 2, 3…): what Last-Event-ID names"),
    seen: z.boolean(),
    dismissed: z.boolean(),
  })
  .meta({ id: 'InboxEntry' });

export const InboxSchema = z.object({ messages: z.array(InboxEntrySchema) }).meta({ id: 'Inbox' });

export const MarkParamsSchema = z.object({
  decision_id: z.string().min(1).max(1_024),
  action: z.enum(INBOX_ACTIONS, { error: `one of ${INBOX_ACTIONS.join(', ')}` }),
});

export const MarkResultSchema = z
  .object({
    decision_id: z.string(),
    action: z.enum(INBOX_ACTIONS),
    first: z.boolean().describe('false when this was already marked (recorded once either way)'),
  })
  .meta({ id: 'InboxMark' });
