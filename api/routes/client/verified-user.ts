import type { FastifyRequest, onRequestAsyncHookHandler } from 'fastify';
import type { ClientSecrets } from '../../../pipeline/ports/key-store.ts';
import { userHashMatches } from '../../auth/user-hash.ts';
import { ApiError } from '../../errors.ts';
import { LIMITS } from '../ingest/ingest.schemas.ts';

/** How long the client secret is trusted from memory: a rotation takes effect within this. */
const SECRET_TTL_MS = 5_000;

export const USER_ID_HEADER = 'x-nudge-user-id';
export const USER_HASH_HEADER = 'x-nudge-user-hash';

declare module 'fastify' {
  interface FastifyRequest {
    /** The user a client key's request proved it speaks for (the `/v1/client` routes). */
    verifiedUser: string | null;
  }
}

/**
 * The check of a client request's user, after its key: `X-Nudge-User-Id` (percent-encoded, as
 * `encodeURIComponent` gives it, since a header holds only Latin-1) and `X-Nudge-User-Hash`, the
 * hex HMAC-SHA256 of the user id with the client secret. Missing is a 401 (as a missing key is),
 * wrong a 403: the key was right, the user is not proven.
 */
export function verifyUser(secrets: ClientSecrets): onRequestAsyncHookHandler {
  const verified = userVerifier(secrets);
  return async (request: FastifyRequest) => {
    request.verifiedUser = await verified(request);
  };
}

/**
 * The check `verifyUser` makes, as a function giving the user the request proves (or throwing the
 * 401 or 403): for a route that also takes keys of other scopes, which need no user.
 */
export function userVerifier(secrets: ClientSecrets): (request: FastifyRequest) => Promise<string> {
  let cached: { readonly secret: string | undefined; readonly until: number } | undefined;
  const secret = async (): Promise<string | undefined> => {
    if (cached !== undefined && cached.until > Date.now()) return cached.secret;
    const value = await secrets.clientSecret().catch(() => {
      // The service's own message stays in our logs: it names hosts.
      throw new ApiError('not_ready', 'the key store (Redis) did not answer: retry');
    });
    cached = { secret: value, until: Date.now() + SECRET_TTL_MS };
    return value;
  };
  return async (request: FastifyRequest) => {
    const encoded = request.headers[USER_ID_HEADER];
    const hash = request.headers[USER_HASH_HEADER];
    if (typeof encoded !== 'string' || encoded === '' || typeof hash !== 'string' || hash === '')
      throw new ApiError(
        'unauthorized',
        'a client key speaks for one user: send X-Nudge-User-Id (the user id, percent-encoded) and X-Nudge-User-Hash',
      );
    const userId = decoded(encoded);
    if (userId === undefined || userId === '' || userId.length > LIMITS.idLength)
      throw new ApiError(
        'invalid_request',
        `X-Nudge-User-Id must be a user id of 1 to ${LIMITS.idLength} characters, percent-encoded (encodeURIComponent)`,
      );
    const key = await secret();
    if (key === undefined)
      throw new ApiError(
        'user_not_verified',
        'no client secret is set for this deployment: run "nudge keys secret" and sign user ids with it',
      );
    if (!userHashMatches(key, userId, hash.trim()))
      throw new ApiError(
        'user_not_verified',
        'X-Nudge-User-Hash is not the hex HMAC-SHA256 of the user id with the client secret',
      );
    return userId;
  };
}

function decoded(text: string): string | undefined {
  try {
    return decodeURIComponent(text);
  } catch {
    return undefined;
  }
}
