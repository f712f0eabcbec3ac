import { z } from 'zod';
import type { FlatObject } from './scalar.ts';
import { requiredOr } from './validation.ts';

/** Only the first keys of `metadata`, in the order sent, are usable in rules and templates (DESIGN §2). */
export const USABLE_METADATA_KEYS = 20;

/** Why a value of a flat object is not a scalar, naming a nested object or an array (DESIGN §2). */
export const notScalar = (issue: { input?: unknown }): string =>
  Array.isArray(issue.input)
    ? 'arrays are not allowed: values are strings, numbers, booleans or null'
    : typeof issue.input === 'object'
      ? 'nested objects are not allowed: values are strings, numbers, booleans or null'
      : 'values are strings, numbers, booleans or null';

const ScalarSchema = z.union([z.string(), z.number(), z.boolean(), z.null()], { error: notScalar });

/** A flat object of scalars; a nested value is rejected naming its key (`metadata.size: nested objects …`). */
export const FlatObjectSchema = z.record(z.string(), ScalarSchema, {
  error: requiredOr('expected an object of keys to strings, numbers, booleans or null'),
});

const IdSchema = z.string({ error: requiredOr('expected a string') }).min(1, 'must not be empty');
const TimestampSchema = z
  .int({ error: requiredOr('expected an integer of milliseconds since the epoch (UTC)') })
  .nonnegative()
  .max(Number.MAX_SAFE_INTEGER);

export const TrackEntrySchema = z.object({
  type: z.literal('track'),
  id: IdSchema,
  name: IdSchema,
  user_id: IdSchema,
  received_at: TimestampSchema,
  created_at: TimestampSchema.optional(),
  metadata: FlatObjectSchema.optional(),
  context: FlatObjectSchema.optional(),
});

export const IdentifyEntrySchema = z.object({
  type: z.literal('identify'),
  id: IdSchema,
  user_id: IdSchema,
  received_at: TimestampSchema,
  /** Merged into the user's attributes; a key set to `null` removes it. */
  attributes: FlatObjectSchema,
});

const entryTypeError = (issue: { input?: unknown }): string => {
  const type = entryType(issue.input);
  if (typeof issue.input !== 'object' || issue.input === null || Array.isArray(issue.input)) {
    return 'an entry is a JSON object';
  }
  return type === undefined
    ? 'required: "track" or "identify"'
    : `unknown entry type ${JSON.stringify(type)}: use "track" or "identify"`;
};

const entryType = (input: unknown): unknown =>
  typeof input === 'object' && input !== null ? (input as { type?: unknown }).type : undefined;

export const LogEntrySchema = z.discriminatedUnion('type', [TrackEntrySchema, IdentifyEntrySchema], {
  error: entryTypeError,
});

/**
 * An entry as a producer sends it, before ingestion stamps it: `received_at` is assigned by
 * ingestion (a recorded one is kept only when replaying recorded traffic), and `id` is generated
 * when absent (DESIGN §2).
 */
export const IngestEntrySchema = z.discriminatedUnion(
  'type',
  [
    TrackEntrySchema.extend({ id: IdSchema.optional(), received_at: TimestampSchema.optional() }),
    IdentifyEntrySchema.extend({ id: IdSchema.optional(), received_at: TimestampSchema.optional() }),
  ],
  { error: entryTypeError },
);
export type IngestEntry = z.output<typeof IngestEntrySchema>;

/**
 * The log entry ingestion writes: the producer's entry with its id (`newId()` when it has none)
 * and `received_at`. Built field by field, every entry of a type with the same fields: this is the
 * ingest path, and a spread of the input cost it microseconds an entry.
 */
export function stampEntry(input: IngestEntry, newId: () => string, receivedAt: number): LogEntry {
  const id = input.id ?? newId();
  return input.type === 'track'
    ? {
        type: 'track',
        id,
        name: input.name,
        user_id: input.user_id,
        received_at: receivedAt,
        created_at: input.created_at,
        metadata: input.metadata,
        context: input.context,
      }
    : { type: 'identify', id, user_id: input.user_id, received_at: receivedAt, attributes: input.attributes };
}

export type TrackEntry = {
  readonly type: 'track';
  readonly id: string;
  readonly name: string;
  readonly user_id: string;
  readonly received_at: number;
  readonly created_at?: number | undefined;
  readonly metadata?: FlatObject | undefined;
  readonly context?: FlatObject | undefined;
};
export type IdentifyEntry = {
  readonly type: 'identify';
  readonly id: string;
  readonly user_id: string;
  readonly received_at: number;
  readonly attributes: FlatObject;
};
export type LogEntry = TrackEntry | IdentifyEntry;

/**
 * True when `json` is an entry `LogEntrySchema` accepts, checked without zod: the replay and the
 * matcher read every entry, and this check costs a tenth of a zod parse. It accepts a subset of
 * what the schema accepts (a property test holds it so); anything it refuses goes through the
 * schema, which accepts it or names the problem. Unknown keys are kept rather than stripped.
 */
export function isWellFormedEntry(json: unknown): json is LogEntry {
  if (!isObject(json)) return false;
  const entry = json as Record<string, unknown>;
  if (!isId(entry['id']) || !isId(entry['user_id']) || !isTimestamp(entry['received_at'])) return false;
  if (entry['type'] === 'identify') return isFlat(entry['attributes']);
  return (
    entry['type'] === 'track' &&
    isId(entry['name']) &&
    (entry['created_at'] === undefined || isTimestamp(entry['created_at'])) &&
    (entry['metadata'] === undefined || isFlat(entry['metadata'])) &&
    (entry['context'] === undefined || isFlat(entry['context']))
  );
}

const isObject = (value: unknown): value is object =>
  typeof value === 'object' && value !== null && !Array.isArray(value);
const isId = (value: unknown) => typeof value === 'string' && value.length > 0;
const isTimestamp = (value: unknown) => Number.isSafeInteger(value) && (value as number) >= 0;

function isFlat(value: unknown): boolean {
  if (!isObject(value)) return false;
  for (const item of Object.values(value)) {
    if (item === null || typeof item === 'string' || typeof item === 'boolean') continue;
    if (typeof item !== 'number' || !Number.isFinite(item)) return false;
  }
  return true;
}

/** The metadata rules and templates may read: the first 20 keys in the order sent, the rest ignored. */
export function usableMetadata(metadata: FlatObject | undefined): FlatObject | undefined {
  if (metadata === undefined) return undefined;
  const keys = Object.keys(metadata);
  if (keys.length <= USABLE_METADATA_KEYS) return metadata;
  return Object.fromEntries(keys.slice(0, USABLE_METADATA_KEYS).map((key) => [key, metadata[key] ?? null]));
}
