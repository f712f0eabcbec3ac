import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

import type { ApiKeyRecord, Scope } from '../../pipeline/ports/key-store.ts';

export { SCOPES } from '../../pipeline/ports/key-store.ts';
export type { ApiKeyRecord, Scope } from '../../pipeline/ports/key-store.ts';

const KEY_PATTERN = /^nudge_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$/;

/**
 * A new key: `nudge_<id>_<secret>`, the id naming the record (so a key is found without a scan)
 * and 256 random bits of secret. A plain sha256 of the secret is enough to store: with that much
 * entropy nothing is gained by a slow hash, and a request must not pay for one.
 */
export function newApiKey(): { readonly id: string; readonly key: string; readonly hash: string } {
  const id = randomBytes(8).toString('hex');
  const secret = randomBytes(32).toString('base64url');
  return { id, key: `nudge_${id}_${secret}`, hash: hashSecret(secret) };
}

export function parseApiKey(key: string): { readonly id: string; readonly secret: string } | undefined {
  const match = KEY_PATTERN.exec(key);
  return match === null ? undefined : { id: match[1] ?? '', secret: match[2] ?? '' };
}

const hashSecret = (secret: string) => createHash('sha256').update(secret).digest('hex');

/** Compares in constant time, so the time taken says nothing of how much of the secret was right. */
export function secretMatches(secret: string, hash: string): boolean {
  const given = Buffer.from(hashSecret(secret), 'hex');
  const stored = Buffer.from(hash, 'hex');
  return given.length === stored.length && timingSafeEqual(given, stored);
}

export const allows = (record: ApiKeyRecord, scope: Scope) =>
  record.scopes.includes(scope) || record.scopes.includes('admin');
