import { readFileSync } from 'node:fs';
import type { FastifyRateLimitStore, FastifyRateLimitStoreCtor } from '@fastify/rate-limit';
import type { RedisClient } from './connect-redis.ts';

/** Registered under a versioned name, as the state store's scripts are: bump with any change. */
const COMMAND = 'nudgeIncrementWindow1';
const lua = readFileSync(new URL('scripts/incrementWindow-1.lua', import.meta.url), 'utf8');

type Counted = { readonly current: number; readonly ttl: number };
type Callback = (error: Error | null, result?: Counted) => void;
type WithScript = RedisClient & {
  [COMMAND]: (key: string, count: number, windowMs: number) => Promise<[number, number]>;
};

/** Counts one process reserves at once, at most, for a key with room for a hundred times as many. */
const MAX_RESERVATION = 64;

/** Counts of one key's window that this process took from Redis and has not handed out yet. */
type Reserved = { next: number; readonly last: number; readonly endsAt: number };

/**
 * @fastify/rate-limit's counts in Redis, shared by every API process: the plugin's own fixed
 * window (a counter per key that expires with its window). The plugin decides, answers 429 and
 * sets the headers; this store tells each request its place in the key's window.
 *
 * The plugin's Redis store made a round trip per request, a third of the API's CPU at one entry a
 * request. Here the requests of one key in one turn of the event loop are counted by one script
 * call, and a busy key reserves counts ahead: one `INCRBY` of up to 64 (never more than a
 * hundredth of the key's limit, so a key limited to 60 a minute is counted request by request),
 * handed out in order to the requests that follow until used or the window ends. Every request
 * gets a count no other request of any process gets, so the limit is never exceeded; counts a
 * process reserved and did not use are spent, so with several API processes a key can be refused
 * up to 64 requests a process early in a window. `continueExceeding`, `exponentialBackoff` and
 * per-route limits are not supported (refused, never ignored).
 */
export function redisRateLimitStore(redis: RedisClient, prefix: string): FastifyRateLimitStoreCtor {
  if (!(COMMAND in redis)) redis.defineCommand(COMMAND, { numberOfKeys: 1, lua });
  const scripted = redis as WithScript;

  type Waiting = { windowMs: number; max: number; callbacks: Callback[] };

  class RedisWindowStore implements FastifyRateLimitStore {
    private readonly waiting = new Map<string, Waiting>();
    private readonly reserved = new Map<string, Reserved>();
    /** Keys with a script call under way: their next requests wait for what it reserves. */
    private readonly counting = new Set<string>();
    private scheduled = false;

    constructor(options: { continueExceeding?: boolean; exponentialBackoff?: boolean }) {
      if (options.continueExceeding === true || options.exponentialBackoff === true)
        throw new Error(
          'redisRateLimitStore counts fixed windows only: no continueExceeding, no exponentialBackoff',
        );
    }

    incr(key: string, callback: Callback, timeWindow: number, max: number): void {
      if (this.handOut(key, callback)) return;
      let entry = this.waiting.get(key);
      if (entry === undefined) {
        entry = { windowMs: timeWindow, max, callbacks: [] };
        this.waiting.set(key, entry);
      }
      entry.callbacks.push(callback);
      if (!this.counting.has(key)) this.schedule();
    }

    /** Per-route limits would need a store per route; nudge has one limit for every route. */
    child(): FastifyRateLimitStore {
      throw new Error('redisRateLimitStore has no per-route limits: configure the plugin globally');
    }

    /** Gives the request the next reserved count of its key, if there is one left in the window. */
    private handOut(key: string, callback: Callback): boolean {
      const reserved = this.reserved.get(key);
      if (reserved === undefined) return false;
      const now = Date.now();
      if (reserved.next > reserved.last || now >= reserved.endsAt) {
        this.reserved.delete(key);
        return false;
      }
      callback(null, { current: reserved.next++, ttl: reserved.endsAt - now });
      return true;
    }

    private schedule(): void {
      if (this.scheduled) return;
      this.scheduled = true;
      // After the I/O callbacks of this turn: every request read in it is counted in one call.
      setImmediate(() => {
        this.scheduled = false;
        for (const [key, waiting] of this.waiting) {
          if (this.counting.has(key)) continue;
          this.waiting.delete(key);
          this.count(key, waiting);
        }
      });
    }

    private count(key: string, { windowMs, max, callbacks }: Waiting): void {
      // Counts ahead only for a key that is busy (more than one request a turn) and has room.
      const ahead = callbacks.length > 1 ? Math.min(MAX_RESERVATION, Math.floor(max / 100)) : 0;
      const count = callbacks.length + ahead;
      this.counting.add(key);
      scripted[COMMAND](prefix + key, count, windowMs).then(
        ([total, ttl]) => {
          this.counting.delete(key);
          let next = total - count + 1;
          for (const callback of callbacks) callback(null, { current: next++, ttl });
          if (next <= total) this.reserved.set(key, { next, last: total, endsAt: Date.now() + ttl });
          this.served(key);
        },
        (error: unknown) => {
          this.counting.delete(key);
          const failure = error instanceof Error ? error : new Error(String(error));
          for (const callback of callbacks) callback(failure);
          this.served(key);
        },
      );
    }

    /** The requests that came while a call was under way: from what it reserved, or a call of their own. */
    private served(key: string): void {
      const waiting = this.waiting.get(key);
      if (waiting === undefined) return;
      while (waiting.callbacks.length > 0 && this.handOut(key, waiting.callbacks[0] as Callback))
        waiting.callbacks.shift();
      if (waiting.callbacks.length === 0) this.waiting.delete(key);
      else this.schedule();
    }
  }
  return RedisWindowStore;
}
