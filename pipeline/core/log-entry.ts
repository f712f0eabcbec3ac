import { z } from 'zod';
import type { FlatObject } from './scalar.ts';
import { requiredOr } from './validation.ts';

/** Only the first keys of `metadata`, in the order sent, are usable in rules and templates (DESIGN §2). */
export const USABLE_METADATA_KEYS = 20;

const ScalarSchema = z.union([z.string(), z.number(), z.boolean(), z.null()], {
  error: (issue) =>
    Array.isArray(issue.input)
      ? 'arrays are not allowed: values are strings, numbers, booleans or null'
      : typeof issue.input === 'object'
        ? 'nested objects are not allowed: values are strings, numbers, booleans or null'
        : 'values are strings, numbers, booleans or null',
});

/** A flat object of scalars; a nested value is rejected naming its key (`metadata.size: nested objects …`). */
export const FlatObjectSchema = z.record(z.string(), ScalarSchema, {
  error: requiredOr('an object of keys to strings, numbers, booleans or null'),
});

const IdSchema = z.string({ error: requiredOr('a string') }).min(1, 'must not be empty');
const TimestampSchema = z
  .int({ error: requiredOr('an integer of milliseconds since the epoch (UTC)') })
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

const entryType = (input: unknown): unknown =>
  typeof input === 'object' && input !== null ? (input as { type?: unknown }).type : undefined;

export const LogEntrySchema = z.discriminatedUnion('type', [TrackEntrySchema, IdentifyEntrySchema], {
  error: (issue) => {
    const type = entryType(issue.input);
    if (typeof issue.input !== 'object' || issue.input === null || Array.isArray(issue.input)) {
      return 'an entry is a JSON object';
    }
    return type === undefined
      ? 'required: "track" or "identify"'
      : `unknown entry type ${JSON.stringify(type)}: use "track" or "identify"`;
  },
});

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

/** The metadata rules and templates may read: the first 20 keys in the order sent, the rest ignored. */
export function usableMetadata(metadata: FlatObject | undefined): FlatObject | undefined {
  if (metadata === undefined) return undefined;
  const keys = Object.keys(metadata);
  if (keys.length <= USABLE_METADATA_KEYS) return metadata;
  return Object.fromEntries(keys.slice(0, USABLE_METADATA_KEYS).map((key) => [key, metadata[key] ?? null]));
}
