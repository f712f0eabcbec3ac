import { z } from 'zod';
import { LIMITS } from '../ingest/ingest.schemas.ts';

export const EventSummary = z
  .object({
    name: z.string(),
    entries: z.int().describe('distinct entries with this name in the audit'),
    last_seen: z.int().describe('ms since the epoch: the latest received_at'),
    metadata_keys: z
      .array(z.object({ key: z.string(), types: z.array(z.string()) }))
      .describe(
        'the usable keys seen (the first 20 of an entry), earliest place first, with the JSON types seen',
      ),
  })
  .meta({ id: 'EventSummary' });

export const AttributeSummary = z
  .object({
    key: z.string(),
    types: z.array(z.string()).describe('the JSON types of the values it was set to, sorted'),
    users: z.int().describe('distinct users it was set on, approximate (about 1%), removals not subtracted'),
    last_seen: z.int().describe('ms since the epoch: the latest received_at of an identify entry setting it'),
  })
  .meta({ id: 'AttributeSummary' });

const Scalars = z.record(z.string(), z.union([z.string(), z.number(), z.boolean(), z.null()]));

export const RecentParams = z.object({
  name: z
    .string()
    .min(1)
    .max(LIMITS.idLength)
    // The name goes into SQL as UTF-8, which a lone surrogate has no encoding in.
    .refine((name) => name.isWellFormed(), 'an event name with a lone surrogate was never stored')
    .describe('the event name (percent-encoded)'),
});

export const RecentQuery = z.strictObject({ limit: z.coerce.number().int().min(1).max(50).default(10) });

export const RecentEntry = z
  .object({
    entry_id: z.string(),
    user_id: z.string(),
    received_at: z.int().describe('ms since the epoch'),
    metadata: Scalars.describe('as sent; {} when the entry had none'),
    context: Scalars.describe('as sent; {} when the entry had none'),
  })
  .meta({ id: 'RecentEntry' });
