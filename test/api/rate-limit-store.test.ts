import { randomUUID } from 'node:crypto';
import type { FastifyRateLimitStore } from '@fastify/rate-limit';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { redisRateLimitStore } from '../../api/adapters/redis-rate-limit-store.ts';
import { loadConfig } from '../../pipeline/config/load-config.ts';
import { Namespace } from '../../pipeline/namespace.ts';

const WINDOW = 60_000;
const config = loadConfig(process.env);
const ns = new Namespace(`t_${randomUUID().replaceAll('-', '').slice(0, 20)}`);
const prefix = `${ns.name}:ratelimit:`;
let redis: Redis;
let other: Redis;

type Counted = { current: number; ttl: number };

/** One request's count, as the plugin asks for it. */
const incr = (store: FastifyRateLimitStore, key: string, windowMs = WINDOW): Promise<Counted> =>
  new Promise((resolve, reject) => {
    store.incr(
      key,
      (error, result) => {
        if (error !== null) reject(error);
        else if (result === undefined) reject(new Error('no count'));
        else resolve(result);
      },
      windowMs,
      1_000,
    );
  });

/** `n` requests for one key, all in this turn of the event loop. */
const burst = (store: FastifyRateLimitStore, key: string, n: number, windowMs = WINDOW) =>
  Promise.all(Array.from({ length: n }, () => incr(store, key, windowMs)));

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
