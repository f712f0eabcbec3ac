import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Channel } from '../../pipeline/core/message-schema.ts';
import { CHANNELS, MessageIdSchema } from '../../pipeline/core/message-schema.ts';

/** What an unsubscribe link stands for: one user's sends of one message on one channel. */
export type UnsubscribeTarget = {
  readonly user_id: string;
  readonly message_id: string;
  readonly channel: Channel;
};

/** A token longer than any we make is refused before it is hashed (a user id is at most 256 characters). */
const MAX_TOKEN_LENGTH = 4_096;
const SIGNATURE = /^[A-Za-z0-9_-]{43}$/;
const KNOWN_CHANNELS: ReadonlySet<string> = new Set(CHANNELS);

/**
 * The token of an unsubscribe link (README "Deliveries"): `<payload>.<signature>`, the payload the
 * target as base64url JSON `{"user_id","message_id","channel"}`, the signature base64url
 * HMAC-SHA256 of the payload text with the namespace's unsubscribe secret. It needs no API key
 * (the token is the credential: only who holds the mail has it) and never expires, because a
 * person opens a mail months after it was sent; it can only ever opt that user out, so a leaked
 * link costs at most an unsubscribe.
 */
export function signUnsubscribeToken(secret: string, target: UnsubscribeTarget): string {
  return signFields(secret, {
    user_id: target.user_id,
    message_id: target.message_id,
    channel: target.channel,
  });
}

/**
 * The target of a token signed with `secret`, or undefined for any other text: a forged or
 * altered token, one cut short, one signed with another secret. The signature is compared in
 * constant time, so the time taken says nothing of how much of it was right.
 */
export function verifyUnsubscribeToken(secret: string, token: string): UnsubscribeTarget | undefined {
  const fields = verifiedFields(secret, token);
  // A tracking token (api/auth/track-token.ts) is signed with the same secret and carries a
  // `kind`; an unsubscribe token never does, so one can never stand for the other.
  if (fields === undefined || 'kind' in fields) return undefined;
  return targetOf(fields);
}

/**
 * A token of `fields`: `<payload>.<signature>`, the payload the fields as base64url JSON, the
 * signature base64url HMAC-SHA256 of the payload text. Shared with the tracking tokens, which
 * tell themselves apart from unsubscribe tokens by a `kind` field.
 */
export function signFields(secret: string, fields: Readonly<Record<string, string | number>>): string {
  const payload = Buffer.from(JSON.stringify(fields)).toString('base64url');
  return `${payload}.${signature(secret, payload)}`;
}

/**
 * The fields of a token signed with `secret` (a JSON object, not yet checked for its shape), or
 * undefined for any other text: a forged or altered token, one cut short, one signed with another
 * secret. The signature is compared in constant time, so the time taken says nothing of how much
 * of it was right.
 */
export function verifiedFields(secret: string, token: string): Record<string, unknown> | undefined {
  if (token.length > MAX_TOKEN_LENGTH) return undefined;
  const [payload, given, ...rest] = token.split('.');
  if (payload === undefined || given === undefined || rest.length > 0 || !SIGNATURE.test(given))
    return undefined;
  // The text itself is compared, not the bytes it decodes to: the last of 43 base64url characters
  // carries 2 unused bits, so 4 spellings of one signature would otherwise pass.
  if (!timingSafeEqual(Buffer.from(signature(secret, payload)), Buffer.from(given))) return undefined;
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
  } catch {
    return undefined;
  }
  return typeof json === 'object' && json !== null && !Array.isArray(json)
    ? (json as Record<string, unknown>)
    : undefined;
}

/** The link a mail carries: `{public URL}/v1/unsubscribe/{token}` (a GET shows the page, a POST unsubscribes). */
export function unsubscribeUrl(publicUrl: string, token: string): string {
  return `${publicUrl.replace(/\/+$/, '')}/v1/unsubscribe/${token}`;
}

/** A new unsubscribe secret: 256 random bits, base64url. */
export const newUnsubscribeSecret = (): string => randomBytes(32).toString('base64url');

const signature = (secret: string, payload: string): string =>
  createHmac('sha256', secret).update(payload).digest('base64url');

/**
 * The fields as a target, checked even though they are signed: a secret reused elsewhere must not
 * yield a strange one. Shared with the tracking tokens, whose fields hold a target too.
 */
export function targetOf(fields: Record<string, unknown>): UnsubscribeTarget | undefined {
  const { user_id, message_id, channel } = fields;
  if (typeof user_id !== 'string' || user_id === '') return undefined;
  if (!MessageIdSchema.safeParse(message_id).success || typeof message_id !== 'string') return undefined;
  if (typeof channel !== 'string' || !KNOWN_CHANNELS.has(channel)) return undefined;
  return { user_id, message_id, channel: channel as Channel };
}
