/**
 * Every error code the API answers with, its HTTP status and what it means: the one registry
 * (README "Errors" lists them, and a test holds the two equal). A code is for programs and never
 * changes; the message beside it in an answer is for people and names the field, the byte or the
 * header at fault and what was expected.
 */
export const ERROR_CODES = {
  invalid_request: {
    status: 400,
    meaning: 'the request breaks the contract: each problem named with its field and what was expected',
  },
  invalid_json: { status: 400, meaning: 'the body is not JSON: the byte, line and column where it breaks' },
  invalid_message: { status: 400, meaning: 'a message definition is invalid: each problem with its path' },
  query_too_long: { status: 400, meaning: 'a stats query ran past its time limit: ask for a shorter range' },
  invalid_unsubscribe_token: {
    status: 400,
    meaning: 'an unsubscribe link whose token is not one this deployment signed (cut short or altered)',
  },
  unauthorized: { status: 401, meaning: 'no API key, or one that is not valid or was revoked' },
  forbidden: { status: 403, meaning: 'the API key lacks the scope the route needs (the message names both)' },
  user_not_verified: {
    status: 403,
    meaning: "a client key's user hash is not the user id's HMAC with the client secret",
  },
  not_found: { status: 404, meaning: 'no such route (with the nearest one), message, replay or user' },
  push_not_configured: {
    status: 404,
    meaning: 'no VAPID keys yet, so pages cannot subscribe to push: run nudge keys vapid',
  },
  method_not_allowed: {
    status: 405,
    meaning: 'the route exists for other methods (the Allow header lists them)',
  },
  conflict: {
    status: 409,
    meaning:
      'the change conflicts with the stored state (a message that exists, a live one), or a test send to a user who cannot be reached on its channel',
  },
  body_too_large: { status: 413, meaning: 'the request body is over the limit' },
  entry_too_large: { status: 413, meaning: 'one entry is over the limit as JSON' },
  uri_too_long: { status: 414, meaning: 'the path is too long (an id over its length limit)' },
  unsupported_media_type: {
    status: 415,
    meaning: 'the body is not sent as the content type the route reads',
  },
  rate_limited: {
    status: 429,
    meaning: "the key's (or address's) requests a minute: retry after retry-after",
  },
  too_many_replays: { status: 429, meaning: 'as many replays run as this API process allows: retry later' },
  internal: { status: 500, meaning: 'a fault of ours: it is logged, and the request is safe to retry' },
  log_unavailable: {
    status: 503,
    meaning: 'the log (NATS) did not store the entries: retry with the same ids',
  },
  catalog_unavailable: { status: 503, meaning: 'the message catalog (NATS) did not answer: retry' },
  audit_unavailable: { status: 503, meaning: 'the audit (ClickHouse) did not answer: retry' },
  stats_unavailable: { status: 503, meaning: 'the analytics store (ClickHouse) did not answer: retry' },
  replays_unavailable: { status: 503, meaning: 'the replay store (ClickHouse) did not answer: retry' },
  inbox_unavailable: { status: 503, meaning: 'the inbox (Redis) did not answer: retry' },
  keys_unavailable: {
    status: 503,
    meaning: 'the key store (NATS) did not answer for a key not checked before: retry',
  },
  not_ready: { status: 503, meaning: 'a service the API needs is not reachable (named in the answer)' },
} as const satisfies Record<string, { status: number; meaning: string }>;

export type ErrorCode = keyof typeof ERROR_CODES;

/** Codes that stand in a batch's per-entry results rather than as an answer's status. */
export const ENTRY_ERROR_CODES = {
  invalid_entry: 'the entry breaks the contract (the message names each problem)',
  entry_too_large: 'the entry is over the limit as JSON',
  unmapped_call: 'a Segment or Intercom call that cannot become an entry (the reason is given)',
} as const;
