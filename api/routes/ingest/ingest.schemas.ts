import { z } from 'zod';
import { entryContract } from '../../../pipeline/core/entry-contract.ts';
import { keysInSentOrder } from '../../../pipeline/core/key-order.ts';
import { USABLE_METADATA_KEYS } from '../../../pipeline/core/log-entry.ts';

/**
 * What the HTTP API accepts as an entry (DESIGN §2), stricter than the log's own contract: sizes are
 * bounded (so one client cannot fill the log or a matcher's memory), unknown keys are refused
 * rather than dropped, and `received_at` is ingestion's to set.
 */
export const LIMITS = {
  /** `id`, `name`, `user_id`. */
  idLength: 256,
  keyLength: 128,
  stringLength: 4_096,
  /** Keys of `metadata`, `context` and `attributes`; only the first 20 of `metadata` are usable. */
  keys: 100,
  batch: 1_000,
  /** A request body, in bytes (a full batch of large entries fits). */
  bodyBytes: 5 * 1024 * 1024,
  /** One entry as JSON, stamped, in bytes: half a log message (`PACK_BYTES`), so one always fits. */
  entryBytes: 256 * 1024,
} as const;

/** The API's entry contract: the schemas below and `isWellFormedApiEntry` are built from it. */
export const API_ENTRY = entryContract(
  { limits: LIMITS, unknownKeys: 'refuse', id: 'optional', receivedAt: 'refused' },
  {
    timeMessage: 'an integer of milliseconds since the epoch (UTC)',
    openApi: {
      track: {
        id: 'TrackEntry',
        fields: {
          id: 'your idempotency key: the same id accepted twice is one entry (generated when absent)',
          name: 'the event name',
          created_at: "the client's own time of the event: stored, never used to decide",
          metadata: `flat scalars; only the first ${USABLE_METADATA_KEYS} keys, in the order sent, are usable in rules`,
          context: 'page context such as url, time_on_page_s',
        },
      },
      identify: {
        id: 'IdentifyEntry',
        fields: { attributes: "merged into the user's attributes; a key set to null removes it" },
      },
    },
  },
);
const { id: Id, flat: Flat } = API_ENTRY;

/**
 * True when `json` is an entry `ApiEntrySchema` accepts, checked without zod (`entryCheck`, under
 * the API's rules): a batch of 1,000 is checked entry by entry, and zod was most of a batch's
 * cost. It accepts a subset of what the schema accepts, giving the same entry (a property test
 * holds it so); anything it refuses goes through the schema, which accepts it or names the problem.
 */
export const isWellFormedApiEntry: (json: unknown) => json is ApiEntry = API_ENTRY.isWellFormed;

export const ApiTrackSchema = API_ENTRY.track;
export const ApiIdentifySchema = API_ENTRY.identify;
export const ApiEntrySchema = API_ENTRY.entry;
export type ApiEntry = z.output<typeof ApiEntrySchema>;

export const BatchSchema = z
  .strictObject({
    events: z
      .array(z.unknown())
      .min(1, 'at least one entry')
      .max(LIMITS.batch, `at most ${LIMITS.batch} entries a request`)
      .describe(
        'entries as POST /v1/events takes one (TrackEntry or IdentifyEntry); each is checked on its own',
      ),
  })
  .meta({ id: 'Batch' });

// The entry first: most requests carry one, and a batch body fails the entry's discriminator at once,
// where an entry body tried against the batch first would build a strict-object error every time.
export const IngestBodySchema = z.union([ApiEntrySchema, BatchSchema]);

export const IdentifyBodySchema = z
  .strictObject({
    id: Id.optional(),
    attributes: Flat,
  })
  .meta({ id: 'Attributes' });

const Status = z.enum(['accepted', 'duplicate', 'rejected']);

export const EntryResultSchema = z
  .object({
    index: z.int(),
    id: z.string().optional(),
    status: Status,
    received_at: z.int().optional(),
    error: z.object({ code: z.string(), message: z.string(), details: z.array(z.string()) }).optional(),
    warnings: z.array(z.string()).optional(),
  })
  .meta({ id: 'EntryResult' });

export const SingleResultSchema = z
  .object({
    id: z.string(),
    status: z
      .enum(['accepted', 'duplicate'])
      .describe('duplicate: an entry with this id is already in the log'),
    received_at: z.int(),
    warnings: z.array(z.string()).optional(),
  })
  .meta({ id: 'IngestResult' });

export const BatchResultSchema = z
  .object({
    accepted: z.int(),
    duplicates: z.int(),
    rejected: z.int(),
    results: z.array(EntryResultSchema),
  })
  .meta({ id: 'BatchResult' });
export type BatchResult = z.output<typeof BatchResultSchema>;

/** A warning when more metadata keys are sent than rules can use (DESIGN §2), naming the ignored ones in the order sent. */
export function metadataWarnings(entry: ApiEntry): string[] {
  if (entry.type !== 'track' || entry.metadata === undefined) return [];
  const keys = keysInSentOrder(entry.metadata);
  if (keys.length <= USABLE_METADATA_KEYS) return [];
  return [
    `metadata has ${keys.length} keys: only the first ${USABLE_METADATA_KEYS} are usable in rules and templates; ` +
      `stored but ignored: ${keys.slice(USABLE_METADATA_KEYS).join(', ')}`,
  ];
}
