import type { FastifyCorsOptions } from '@fastify/cors';
import { USER_HASH_HEADER, USER_ID_HEADER } from './verified-user.ts';

/**
 * CORS for the routes pages call with a client key (`/v1/client/*`, a user's preferences): any
 * origin, or only those of `NUDGE_CLIENT_ORIGINS`, with the key and the user's headers. Each
 * plugin that registers it names its own methods, so a preflight allows no more than its routes take.
 */
export function clientCors(
  origins: readonly string[],
  methods: readonly ('GET' | 'POST' | 'PUT' | 'DELETE')[],
): FastifyCorsOptions {
  return {
    origin: origins.length === 0 ? '*' : [...origins],
    methods: [...methods],
    allowedHeaders: ['authorization', 'content-type', 'last-event-id', USER_ID_HEADER, USER_HASH_HEADER],
    // The SDK waits as long as a 429 or 503 asks before it tries again.
    exposedHeaders: ['retry-after'],
    maxAge: 86_400,
    strictPreflight: false,
  };
}
