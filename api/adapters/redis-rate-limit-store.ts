import { readFileSync } from 'node:fs';
import type { FastifyRateLimitStore, FastifyRateLimitStoreCtor } from '@fastify/rate-limit';
import type { Redis } from 'ioredis';

/** Registered under a versioned name, as the state store's scripts are: bump with any change. */
const COMMAND = 'nudgeIncrementWindow1';
const lua = readFileSync(new URL('scripts/incrementWindow-1.lua', import.meta.url), 'utf8');

type Counted = { readonly current: number; readonly ttl: number };
type Callback = (error: Error | null, result?: Counted) => void;
type WithScript = Redis & {
  [COMMAND]: (key: string, count: number, windowMs: number) => Promise<[number, number]>;
};

/**
 * @fastify/rate-limit's counts in Redis, shared by every API process: the plugin's own fixed
 * window (a counter per key that expires with its window), with the requests that reach one key
 * in one turn of the event loop counted by one script call rather than one each. The plugin
 * still decides, answers 429 and sets the headers; each request gets the exact count it would
 * have had alone (the n-th of the turn, the total before them plus n). The plugin's store made a
 * Redis call per request, which cost the API about a third of its CPU at one entry a request.
 * `continueExceeding`, `exponentialBackoff` and per-route limits are not supported (refused,
 * never ignored).
 */
export function redisRateLimitStore(redis: Redis, prefix: string): FastifyRateLimitStoreCtor {
  if (!(COMMAND in redis)) redis.defineCommand(COMMAND, { numberOfKeys: 1, lua });
  const scripted = redis as WithScript;

  class RedisWindowStore implements FastifyRateLimitStore {
    private readonly waiting = new Map<string, { windowMs: number; callbacks: Callback[] }>();
    private scheduled = false;

    constructor(options: { continueExceeding?: boolean; exponentialBackoff?: boolean }) {
      if (options.continueExceeding === true || options.exponentialBackoff === true)
        throw new Error(
          'redisRateLimitStore counts fixed windows only: no continueExceeding, no exponentialBackoff',
        );
    }

    incr(key: string, callback: Callback, timeWindow: number): void {
      let entry = this.waiting.get(key);
      if (entry === undefined) {
        entry = { windowMs: timeWindow, callbacks: [] };
        this.waiting.set(key, entry);
      }
      entry.callbacks.push(callback);
      if (this.scheduled) return;
      this.scheduled = true;
      // After the I/O callbacks of this turn: every request read in it is counted in one call.
      setImmediate(() => {
        this.scheduled = false;
        for (const [waitingKey, { windowMs, callbacks }] of this.waiting) {
          this.waiting.delete(waitingKey);
          this.count(waitingKey, windowMs, callbacks);
        }
      });
    }

    /** Per-route limits would need a store per route; nudge has one limit for every route. */
    child(): FastifyRateLimitStore {
      throw new Error('redisRateLimitStore has no per-route limits: configure the plugin globally');
    }

    private count(key: string, windowMs: number, callbacks: readonly Callback[]): void {
      scripted[COMMAND](prefix + key, callbacks.length, windowMs).then(
        ([total, ttl]) => {
          const before = total - callbacks.length;
          callbacks.forEach((callback, i) => {
            callback(null, { current: before + i + 1, ttl });
          });
        },
        (error: unknown) => {
          const failure = error instanceof Error ? error : new Error(String(error));
          for (const callback of callbacks) callback(failure);
        },
      );
    }
  }
  return RedisWindowStore;
}
