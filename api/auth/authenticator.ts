import { LRUCache } from 'lru-cache';
import { ApiError } from '../errors.ts';
import type { KeyStore } from '../../pipeline/ports/key-store.ts';
import type { ApiKeyRecord, Scope } from './api-keys.ts';
import { allows, parseApiKey, secretMatches } from './api-keys.ts';

/** How long a key's record is trusted from memory: a revocation takes effect within this. */
const RECORD_TTL_MS = 5_000;

/**
 * Finds the key of a request (`Authorization: Bearer <key>`) and checks it against the scope a
 * route needs: 401 without a valid key, 403 with a valid key of the wrong scope. Records are
 * cached briefly (ingest must not pay a Redis round trip per request), the secret is compared in
 * constant time, and a key that passed is remembered for as long as its record, so a revocation
 * takes effect within 5 s everywhere.
 */
export class Authenticator {
  private readonly records = new LRUCache<string, { record: ApiKeyRecord | null }>({
    max: 10_000,
    ttl: RECORD_TTL_MS,
    // Kept past its time, for when the store does not answer (`record`).
    noDeleteOnStaleGet: true,
  });

  /**
   * Keys already checked, by the key itself, for as long as a record is trusted: the rate limiter
   * and the route both ask, on every request, and a hash each time was a measurable cost.
   */
  private readonly verified = new LRUCache<string, ApiKeyRecord>({ max: 10_000, ttl: RECORD_TTL_MS });

  constructor(private readonly keys: KeyStore) {}

  /** The key of a request, if it was checked within the last 5 s (no look-up, no await). */
  known(authorization: string | undefined): ApiKeyRecord | undefined {
    const key = bearer(authorization);
    return key === undefined ? undefined : this.verified.get(key);
  }

  /** The valid, unrevoked key of a request, if it has one (for the rate limiter: it never throws). */
  async identify(authorization: string | undefined): Promise<ApiKeyRecord | undefined> {
    const key = bearer(authorization) ?? '';
    const known = this.verified.get(key);
    if (known !== undefined) return known;
    const parsed = parseApiKey(key);
    if (parsed === undefined) return undefined;
    // Unread (the store did not answer): no key, for the limiter; the route's check answers 503.
    const record = await this.record(parsed.id).catch(() => undefined);
    if (record === undefined || record.revoked_at !== null || !secretMatches(parsed.secret, record.hash))
      return undefined;
    this.verified.set(key, record);
    return record;
  }

  async check(authorization: string | undefined, scope: Scope | readonly Scope[]): Promise<ApiKeyRecord> {
    const key = bearer(authorization);
    if (key === undefined)
      throw new ApiError('unauthorized', 'an API key is required: Authorization: Bearer <key>');
    const known = this.verified.get(key);
    if (known !== undefined) return requireScope(known, scope);
    const parsed = parseApiKey(key);
    const record = parsed === undefined ? undefined : await this.record(parsed.id);
    if (parsed === undefined || record === undefined || !secretMatches(parsed.secret, record.hash))
      throw new ApiError('unauthorized', 'the API key is not valid');
    if (record.revoked_at !== null) throw new ApiError('unauthorized', 'the API key was revoked');
    this.verified.set(key, record);
    return requireScope(record, scope);
  }

  /**
   * The key's record: from memory for 5 s, then from the store. While the store does not answer (the
   * keys are in NATS: README "What outlives a Redis loss"), a key read before keeps its last record,
   * as long as it stays among the 10,000 kept; one never read is refused with a 503 to retry.
   */
  private async record(id: string): Promise<ApiKeyRecord | undefined> {
    const cached = this.records.get(id);
    if (cached !== undefined) return cached.record ?? undefined;
    let record: ApiKeyRecord | undefined;
    try {
      record = await this.keys.get(id);
    } catch {
      const last = this.records.get(id, { allowStale: true });
      if (last !== undefined) return last.record ?? undefined;
      throw new ApiError('keys_unavailable', 'the API keys could not be read: retry');
    }
    this.records.set(id, { record: record ?? null });
    return record;
  }
}

/**
 * The record, if its key has the scope (or one of the scopes: a route some keys of two kinds may
 * call, as the preferences a page reads with its client key and a server with an admin key); a
 * 403 otherwise.
 */
export function requireScope(record: ApiKeyRecord, scope: Scope | readonly Scope[]): ApiKeyRecord {
  const scopes: readonly Scope[] = typeof scope === 'string' ? [scope] : scope;
  if (!scopes.some((one) => allows(record, one)))
    throw new ApiError(
      'forbidden',
      `this API key has no ${scopes.map((one) => `"${one}"`).join(' or ')} scope (it has ${record.scopes.join(', ')})`,
    );
  return record;
}

/**
 * The key a request presents: `Authorization: Bearer <key>`, or HTTP Basic with the key as user
 * (how Segment's clients send their write key: `Basic base64(<key>:)`; a password is ignored).
 */
function bearer(authorization: string | undefined): string | undefined {
  if (authorization === undefined) return undefined;
  const match = /^(Bearer|Basic)\s+(\S+)\s*$/i.exec(authorization);
  if (match?.[1] === undefined || match[2] === undefined) return undefined;
  if (match[1].toLowerCase() === 'bearer') return match[2];
  const decoded = Buffer.from(match[2], 'base64').toString('utf8');
  const user = decoded.slice(0, decoded.includes(':') ? decoded.indexOf(':') : undefined);
  return user === '' ? undefined : user;
}
