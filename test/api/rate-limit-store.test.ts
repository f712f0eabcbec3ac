import { randomUUID } from 'node:crypto';
import type { FastifyRateLimitStore } from '@fastify/rate-limit';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { redisRateLimitStore } from '../../pipeline/adapters/redis/redis-rate-limit-store.ts';
import { loadConfig } from '../../pipeline/config/load-config.ts';
import { Namespace } from '../../pipeline/namespace.ts';

const WINDOW = 60_000;
const config = loadConfig(process.env);
const ns = new Namespace(`t_${randomUUID().replaceAll('-', '').slice(0, 20)}`);
const prefix = `${ns.name}:ratelimit:`;
let redis: Redis;
let other: Redis;

type Counted = { current: number; ttl: number };

/**
 * One request's count, as the plugin asks for it. The limit is small unless a test says otherwise:
 * a key with room for under a hundred reservations is counted request by request.
 */
const incr = (store: FastifyRateLimitStore, key: string, windowMs = WINDOW, max = 50): Promise<Counted> =>
  new Promise((resolve, reject) => {
    store.incr(
      key,
      (error, result) => {
        if (error !== null) reject(error);
        else if (result === undefined) reject(new Error('no count'));
        else resolve(result);
      },
      windowMs,
      max,
    );
  });

/** `n` requests for one key, all in this turn of the event loop. */
const burst = (store: FastifyRateLimitStore, key: string, n: number, windowMs = WINDOW, max = 50) =>
  Promise.all(Array.from({ length: n }, () => incr(store, key, windowMs, max)));

const currents = (counts: readonly Counted[]) => counts.map((c) => c.current).sort((a, b) => a - b);
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

beforeAll(() => {
  redis = new Redis(config.redisUrl);
  other = new Redis(config.redisUrl);
});

afterAll(async () => {
  const keys = await redis.keys(`${ns.name}:*`);
  if (keys.length > 0) await redis.del(...keys);
  await redis.quit();
  await other.quit();
});

describe('redisRateLimitStore on a real Redis', () => {
  it('gives the requests of one turn the counts 1..n, each once, and a ttl within the window', async () => {
    const Store = redisRateLimitStore(redis, prefix);
    const counts = await burst(new Store({}), 'burst', 25);
    expect(currents(counts)).toEqual(range(1, 25));
    for (const { ttl } of counts) {
      expect(ttl).toBeGreaterThan(0);
      expect(ttl).toBeLessThanOrEqual(WINDOW);
    }
  });

  it('counts the requests of one turn for one key in a single script call', async () => {
    const Store = redisRateLimitStore(redis, prefix);
    const store = new Store({});
    const key = `${prefix}one-call`;
    const monitor = await other.monitor();
    const seen: string[][] = [];
    const marker = `marker-${randomUUID()}`;
    const markerSeen = new Promise<void>((resolve) => {
      monitor.on('monitor', (_time: string, args: string[]) => {
        if (args.includes(key) && /^eval/i.test(args[0] ?? '')) seen.push(args);
        if (args.includes(marker)) resolve();
      });
    });
    try {
      await burst(store, 'one-call', 25);
      await redis.echo(marker);
      await markerSeen;
    } finally {
      monitor.disconnect();
    }
    expect(seen.length).toBeGreaterThan(0);
    for (const args of seen) expect(args.slice(-2)).toEqual(['25', String(WINDOW)]);
  });

  it('continues the count in a following turn', async () => {
    const store = new (redisRateLimitStore(redis, prefix))({});
    expect(currents(await burst(store, 'turns', 25))).toEqual(range(1, 25));
    expect(currents(await burst(store, 'turns', 3))).toEqual(range(26, 28));
    expect((await incr(store, 'turns')).current).toBe(29);
  });

  it('counts together across two stores sharing Redis and the prefix, as two API processes do', async () => {
    const first = new (redisRateLimitStore(redis, prefix))({});
    const second = new (redisRateLimitStore(other, prefix))({});
    const [a, b] = await Promise.all([burst(first, 'shared', 10), burst(second, 'shared', 15)]);
    expect(currents([...a, ...b])).toEqual(range(1, 25));
    expect((await incr(second, 'shared')).current).toBe(26);
  });

  it('keeps a counter per key, also for keys counted in the same turn', async () => {
    const store = new (redisRateLimitStore(redis, prefix))({});
    const [x, y] = await Promise.all([burst(store, 'key-x', 4), burst(store, 'key-y', 2)]);
    expect(currents(x)).toEqual(range(1, 4));
    expect(currents(y)).toEqual(range(1, 2));
    const elsewhere = new (redisRateLimitStore(redis, `${ns.name}:elsewhere:`))({});
    expect((await incr(elsewhere, 'key-x')).current).toBe(1);
  });

  it('keeps the counter under the prefix and the key, expiring with its window', async () => {
    const store = new (redisRateLimitStore(redis, prefix))({});
    await burst(store, 'expiring', 3);
    expect(await redis.get(`${prefix}expiring`)).toBe('3');
    const pttl = await redis.pttl(`${prefix}expiring`);
    expect(pttl).toBeGreaterThan(0);
    expect(pttl).toBeLessThanOrEqual(WINDOW);
  });

  it('starts again at 1 once the window has passed', async () => {
    const store = new (redisRateLimitStore(redis, prefix))({});
    expect(currents(await burst(store, 'short', 2, 200))).toEqual([1, 2]);
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect(await redis.exists(`${prefix}short`)).toBe(0);
    expect(await incr(store, 'short', 200)).toEqual({ current: 1, ttl: 200 });
  });

  it('reserves counts ahead for a busy key with room, and hands them out in order without Redis', async () => {
    const store = new (redisRateLimitStore(redis, prefix))({});
    // A limit of 6,400 leaves room for a reservation of 64.
    expect(currents(await burst(store, 'ahead', 3, WINDOW, 6_400))).toEqual([1, 2, 3]);
    expect(await redis.get(`${prefix}ahead`)).toBe(String(3 + 64));
    const following: number[] = [];
    for (let i = 0; i < 64; i++) following.push((await incr(store, 'ahead', WINDOW, 6_400)).current);
    expect(following).toEqual(range(4, 67));
    expect(await redis.get(`${prefix}ahead`)).toBe('67');
    // Used up: the next request reserves again.
    expect((await incr(store, 'ahead', WINDOW, 6_400)).current).toBe(68);
  });

  it('serves the requests that come while a call is under way from what it reserves, not with a call of their own', async () => {
    const store = new (redisRateLimitStore(redis, prefix))({});
    const first = burst(store, 'meanwhile', 3, WINDOW, 6_400);
    await new Promise((resolve) => setImmediate(resolve));
    const meanwhile = burst(store, 'meanwhile', 10, WINDOW, 6_400);
    expect(currents([...(await first), ...(await meanwhile)])).toEqual(range(1, 13));
    expect(await redis.get(`${prefix}meanwhile`)).toBe(String(3 + 64));
  });

  it('never lets more requests through than the limit, whatever several processes reserve', async () => {
    const max = 500; // room for reservations of 5
    const stores = [redis, other, redis].map((client) => new (redisRateLimitStore(client, prefix))({}));
    const admitted: number[] = [];
    let refused = 0;
    for (let turn = 0; turn < 40; turn++) {
      const counts = await Promise.all(
        stores.flatMap((store, i) =>
          Array.from({ length: 2 + ((turn + i) % 7) }, () => incr(store, 'capped', WINDOW, max)),
        ),
      );
      for (const { current } of counts) {
        if (current <= max) admitted.push(current);
        else refused++;
      }
    }
    expect(refused).toBeGreaterThan(0);
    expect(new Set(admitted).size).toBe(admitted.length);
    expect(admitted.length).toBeLessThanOrEqual(max);
    // Counts reserved and not used are spent: at most a reservation a process, never more.
    expect(admitted.length).toBeGreaterThanOrEqual(max - stores.length * 5);
  });

  it('lets a reservation end with its window', async () => {
    const store = new (redisRateLimitStore(redis, prefix))({});
    await burst(store, 'short-ahead', 2, 200, 6_400);
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect(await incr(store, 'short-ahead', 200, 6_400)).toEqual({ current: 1, ttl: 200 });
  });

  it('passes a Redis failure to every request of the turn as an error', async () => {
    const offline = new Redis(config.redisUrl, { lazyConnect: true, enableOfflineQueue: false });
    offline.on('error', () => undefined);
    const store = new (redisRateLimitStore(offline, prefix))({});
    const results = await Promise.allSettled([incr(store, 'offline'), incr(store, 'offline')]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    for (const result of results)
      if (result.status === 'rejected') expect(result.reason).toBeInstanceOf(Error);
    offline.disconnect();
  });

  it('refuses continueExceeding and exponentialBackoff, and per-route limits', () => {
    const Store = redisRateLimitStore(redis, prefix);
    expect(() => new Store({ continueExceeding: true })).toThrow(/continueExceeding/);
    expect(() => new Store({ exponentialBackoff: true })).toThrow(/exponentialBackoff/);
    const store = new Store({ continueExceeding: false, exponentialBackoff: false });
    expect(() => store.child({} as Parameters<FastifyRateLimitStore['child']>[0])).toThrow(/per-route/);
  });
});
