import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * The user hash a page sends to prove which user it speaks for, as Intercom's identity
 * verification does: hex HMAC-SHA256 of the user id with the deployment's client secret. The
 * customer's server computes it (README "Show messages in your app"); a page cannot.
 */
export const userHash = (secret: string, userId: string): string =>
  createHmac('sha256', secret).update(userId).digest('hex');

/** Compared in constant time, so the time taken says nothing of how much of the hash was right. */
export function userHashMatches(secret: string, userId: string, given: string): boolean {
  if (!/^[0-9a-f]{64}$/i.test(given)) return false;
  return timingSafeEqual(Buffer.from(userHash(secret, userId), 'hex'), Buffer.from(given, 'hex'));
}

/** A new client secret: 256 random bits, as text safe in an environment variable or a config file. */
export const newClientSecret = (): string => randomBytes(32).toString('base64url');
