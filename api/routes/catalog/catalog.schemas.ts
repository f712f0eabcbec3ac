import { z } from 'zod';

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
