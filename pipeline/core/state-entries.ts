import { z } from 'zod';
import type { Channel } from './message-schema.ts';
import { CHANNELS } from './message-schema.ts';
import { requiredOr } from './validation.ts';

/**
 * The log's `preferences` and `push_subscription` entries (DESIGN §2): written by Nudge itself
 * (the preferences API, the unsubscribe link, the SDK, the push sender) rather than by a
 * producer's `POST /v1/events`, so one contract serves the log and the routes that write them.
 * Unlike `track` and `identify`, they are validated strictly: a channel that does not exist or a
 * subscription with a key too many is refused, because an opt-out that names nothing would be
 * kept and never honoured.
 */

const id = z.string({ error: requiredOr('expected a string') }).min(1, 'must not be empty');
const time = z
  .int({ error: requiredOr('expected an integer of milliseconds since the epoch (UTC)') })
  .nonnegative()
  .max(Number.MAX_SAFE_INTEGER);
const choice = z.union([z.boolean(), z.null()], {
  error: 'false opts out; true or null opts back in',
});

const KNOWN: ReadonlySet<string> = new Set(CHANNELS);
export const ChannelChoicesSchema = z
  .record(z.string(), choice, { error: requiredOr('expected an object of channels to false, true or null') })
  .superRefine((choices, ctx) => {
    for (const key of Object.keys(choices))
      if (!KNOWN.has(key))
        ctx.addIssue({
          code: 'custom',
          path: [key],
          message: `unknown channel ${JSON.stringify(key)}: use one of ${CHANNELS.join(', ')}`,
        });
  }) as unknown as z.ZodType<Partial<Record<Channel, boolean | null>>>;
export const MessageChoicesSchema = z.record(id, choice);

/** base64url (RFC 4648 §5, padding allowed) of exactly `bytes` bytes. */
const base64urlOf = (bytes: number, what: string) =>
  z
    .string({ error: requiredOr('expected a string') })
    .regex(/^[A-Za-z0-9_-]+={0,2}$/, 'expected base64url')
    .refine((text) => decodedLength(text) === bytes, `expected ${what}: ${bytes} bytes, base64url`);

/** Bytes a base64url text decodes to (no Buffer: the core uses no Node-only API); a length of 1 mod 4 decodes to none. */
const decodedLength = (text: string) => {
  const digits = text.replace(/=+$/, '').length;
  return digits % 4 === 1 ? -1 : Math.floor((digits * 3) / 4);
};

/**
 * Strict, so a subscription no push service could take never reaches a user's state: an https
 * endpoint (every browser's push service is), a P-256 public key (65 bytes, uncompressed) and a
 * 16-byte auth secret (RFC 8291).
 */
export const PushSubscriptionSchema = z.strictObject({
  endpoint: z
    .string({ error: requiredOr('expected a string') })
    .refine((url) => URL.canParse(url) && new URL(url).protocol === 'https:', 'expected an https URL'),
  keys: z.strictObject(
    { p256dh: base64urlOf(65, 'a P-256 public key'), auth: base64urlOf(16, 'an auth secret') },
    { error: requiredOr('expected an object') },
  ),
});

export const PreferencesEntrySchema = z.strictObject({
  type: z.literal('preferences'),
  id,
  user_id: id,
  received_at: time,
  channels: ChannelChoicesSchema.default({}),
  messages: MessageChoicesSchema.default({}),
});

export const PushSubscriptionEntrySchema = z.strictObject({
  type: z.literal('push_subscription'),
  id,
  user_id: id,
  received_at: time,
  action: z.enum(['add', 'remove'], { error: 'expected "add" or "remove"' }),
  subscription: PushSubscriptionSchema,
});

const PREFERENCES_KEYS: ReadonlySet<string> = new Set([
  'type',
  'id',
  'user_id',
  'received_at',
  'channels',
  'messages',
]);
const PUSH_KEYS: ReadonlySet<string> = new Set([
  'type',
  'id',
  'user_id',
  'received_at',
  'action',
  'subscription',
]);

/**
 * The fast check of these entries (as `entryCheck` is for the others): true only for an entry
 * the schema gives back unchanged, so a reader that trusts the log (the audit writer) keeps it as
 * written. A preferences entry without `channels` or `messages` is left to the schema, which
 * fills them in.
 */
export function isWellFormedStateEntry(entry: Record<string, unknown>): boolean {
  const type = entry['type'];
  if (type === 'preferences') {
    if (!onlyKeys(entry, PREFERENCES_KEYS) || !isEntryHead(entry)) return false;
    return isChoices(entry['channels'], KNOWN) && isChoices(entry['messages'], undefined);
  }
  if (type === 'push_subscription') {
    if (!onlyKeys(entry, PUSH_KEYS) || !isEntryHead(entry)) return false;
    if (entry['action'] !== 'add' && entry['action'] !== 'remove') return false;
    return PushSubscriptionSchema.safeParse(entry['subscription']).success;
  }
  return false;
}

const isPlain = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' &&
  value !== null &&
  !Array.isArray(value) &&
  Object.getPrototypeOf(value) === Object.prototype;

function onlyKeys(entry: Record<string, unknown>, allowed: ReadonlySet<string>): boolean {
  for (const key in entry) if (!allowed.has(key)) return false;
  return true;
}

function isEntryHead(entry: Record<string, unknown>): boolean {
  const at = entry['received_at'];
  return isId(entry['id']) && isId(entry['user_id']) && Number.isSafeInteger(at) && (at as number) >= 0;
}

const isId = (value: unknown) => typeof value === 'string' && value.length > 0;

function isChoices(value: unknown, keys: ReadonlySet<string> | undefined): boolean {
  if (!isPlain(value)) return false;
  for (const key in value) {
    if (key === '' || key === '__proto__' || (keys !== undefined && !keys.has(key))) return false;
    const choice = value[key];
    if (choice !== true && choice !== false && choice !== null) return false;
  }
  return true;
}
