import { z } from 'zod';
import { entryContract } from './entry-contract.ts';
import {
  isWellFormedStateEntry,
  PreferencesEntrySchema,
  PushSubscriptionEntrySchema,
} from './state-entries.ts';
import { mayBeOutOfOrder, sentOrderOf } from './key-order.ts';
import type { Channel } from './message-schema.ts';
import type { FlatObject } from './scalar.ts';

export { notScalar } from './entry-contract.ts';

/** Only the first keys of `metadata`, in the order sent, are usable in rules and templates (DESIGN §2). */
export const USABLE_METADATA_KEYS = 20;

/**
 * The log's contract: ids non-empty, no bound on sizes, `received_at` set. Keys it does not name
 * are allowed: the schema strips them, and the fast check keeps an entry as written.
 */
const log = entryContract({ unknownKeys: 'keep', id: 'required', receivedAt: 'required' });

/** A flat object of scalars; a nested value is rejected naming its key (`metadata.size: nested objects …`). */
export const FlatObjectSchema = log.flat;
export const TrackEntrySchema = log.track;
export const IdentifyEntrySchema = log.identify;
const ENTRY_TYPES = ['track', 'identify', 'preferences', 'push_subscription'];
/**
 * Every entry the log holds: a producer's `track` and `identify` (the ingest API takes only these),
 * and the `preferences` and `push_subscription` entries Nudge writes itself (`state-entries.ts`).
 */
export const LogEntrySchema = z.discriminatedUnion(
  'type',
  [log.track, log.identify, PreferencesEntrySchema, PushSubscriptionEntrySchema],
  {
    error: (issue) => {
      const input = issue.input;
      if (typeof input !== 'object' || input === null || Array.isArray(input))
        return 'an entry is a JSON object';
      const type = (input as { type?: unknown }).type;
      const use = ENTRY_TYPES.map((t) => JSON.stringify(t)).join(', ');
      return type === undefined
        ? `required: one of ${use}`
        : `unknown entry type ${JSON.stringify(type)}: use one of ${use}`;
    },
  },
);

/**
 * An entry as a producer sends it, before ingestion stamps it: `received_at` is assigned by
 * ingestion (a recorded one is kept only when replaying recorded traffic), and `id` is generated
 * when absent (DESIGN §2).
 */
const ingest = entryContract({ unknownKeys: 'keep', id: 'optional', receivedAt: 'optional' });
export const IngestEntrySchema = ingest.entry;
export type IngestEntry = z.output<typeof IngestEntrySchema>;
/**
 * True when `json` is an entry `IngestEntrySchema` accepts, checked without zod, the entry kept as
 * written (a `__proto__` key of its metadata included, as the log's contract keeps it; zod's
 * record drops it): `nudge ingest` tries it first, and zod names the problems of the rest.
 */
export const isWellFormedIngestEntry = ingest.isWellFormed;

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
/**
 * A person's choices (DESIGN §2): `false` opts out of a channel or a message, `true` or `null` opts
 * back in; a key not named is unchanged. Written by the preferences API and the unsubscribe link.
 */
export type PreferencesEntry = {
  readonly type: 'preferences';
  readonly id: string;
  readonly user_id: string;
  readonly received_at: number;
  readonly channels: Readonly<Partial<Record<Channel, boolean | null>>>;
  readonly messages: Readonly<Record<string, boolean | null>>;
};
/** A browser's Web Push subscription, as `PushSubscription.toJSON()` gives it less `expirationTime`. */
export type PushSubscription = {
  readonly endpoint: string;
  readonly keys: { readonly p256dh: string; readonly auth: string };
};
/** Written by the SDK's `Nudge.subscribePush()` (`add`) and by the push sender when the push service says the subscription is gone (`remove`). */
export type PushSubscriptionEntry = {
  readonly type: 'push_subscription';
  readonly id: string;
  readonly user_id: string;
  readonly received_at: number;
  readonly action: 'add' | 'remove';
  readonly subscription: PushSubscription;
};
/** The entries that change a user's state without being decided on. */
export type StateEntry = IdentifyEntry | PreferencesEntry | PushSubscriptionEntry;
export type LogEntry = TrackEntry | StateEntry;

/**
 * True when `json` is an entry `LogEntrySchema` accepts, checked without zod (`entryCheck`): the
 * replay and the matcher read every entry, and this check costs a tenth of a zod parse. It accepts
 * a subset of what the schema accepts (a property test holds it so); anything it refuses goes
 * through the schema, which accepts it or names the problem. Unknown keys are kept rather than
 * stripped.
 */
export const isWellFormedEntry = (json: unknown): json is LogEntry =>
  log.isWellFormed(json) ||
  (typeof json === 'object' &&
    json !== null &&
    !Array.isArray(json) &&
    isWellFormedStateEntry(json as Record<string, unknown>));

/**
 * True when the metadata of an entry may have its keys out of the order sent: two keys or more,
 * one of them integer-like (`key-order.ts`). Only then does a reader of JSON text read the order
 * from the text again (`withMetadataInSentOrder`), so the log line, the usable keys and the event
 * catalog's places all follow the order sent; the check costs one key otherwise. (Past 20 keys
 * the order decides which keys are usable; below, only the catalog's places.)
 */
export const needsSentOrder = (metadata: FlatObject | undefined): metadata is FlatObject =>
  metadata !== undefined && mayBeOutOfOrder(metadata, 1);

/**
 * The metadata rules and templates may read: the first 20 keys in the order sent, the rest
 * ignored. The order is the one a parser attached to the object (`key-order.ts`) when JavaScript
 * may have moved keys (more than 20, one integer-like), else the object's own; at most 20 keys
 * are all usable, whatever their order.
 */
export function usableMetadata(metadata: FlatObject | undefined): FlatObject | undefined {
  if (metadata === undefined) return undefined;
  const keys = Object.keys(metadata);
  if (keys.length <= USABLE_METADATA_KEYS) return metadata;
  const sent = sentOrderOf(metadata) ?? keys;
  return Object.fromEntries(sent.slice(0, USABLE_METADATA_KEYS).map((key) => [key, metadata[key] ?? null]));
}
