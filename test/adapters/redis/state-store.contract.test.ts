import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { MemoryStateStore } from '../../../pipeline/adapters/memory/memory-state-store.ts';
import { RedisStateStore } from '../../../pipeline/adapters/redis/redis-state-store.ts';
import { loadConfig } from '../../../pipeline/config/load-config.ts';
import type { UserState } from '../../../pipeline/core/user-state.ts';
import { EMPTY_USER_STATE } from '../../../pipeline/core/user-state.ts';
import { Namespace } from '../../../pipeline/namespace.ts';
import type { StateStore } from '../../../pipeline/ports/state-store.ts';
import { CachedStateStore } from '../../../pipeline/runtime/cached-state-store.ts';

const state = (sends: number): UserState => ({
  ...EMPTY_USER_STATE,
  attributes: JSON.parse('{"plan":"pro","__proto__":"x"}') as UserState['attributes'], // a hostile key, as data
  sends: ['m1', sends, 1_793_610_000_000],
  recent: [1_793_610_000_000, 'push'],
});

/**
 * Leases expire by the store's clock: Redis's own, or the memory store's injected one. `other` is
 * another process's view of the same store.
 */
type Subject = { store: StateStore; other: StateStore; expireLeases: () => Promise<void> };

function contract(name: string, make: () => Subject) {
  describe(`StateStore contract: ${name}`, () => {
    it('gives one holder the lease at a time, with an epoch that only grows', async () => {
      const { store, expireLeases } = make();
      const first = await store.acquire(0, 'a', 200);
      expect(first).toBeGreaterThan(0);
      expect(await store.acquire(0, 'a', 200)).toBe(first); // a renewal keeps the epoch
      expect(await store.acquire(0, 'b', 200)).toBeUndefined();
      await expireLeases();
      const second = await store.acquire(0, 'b', 200);
      expect(second).toBeGreaterThan(first ?? Infinity);
      expect(await store.acquire(1, 'a', 200)).toBeGreaterThan(0); // partitions are independent
    });

    it('commits states and the applied position together, and loads them in one call', async () => {
      const { store } = make();
      const epoch = (await store.acquire(2, 'a', 10_000)) ?? -1;
      expect(await store.load(2, ['u1', 'u2'])).toEqual({ applied: 0, states: [undefined, undefined] });
      expect(await store.commit(2, epoch, 10, new Map([['u1', state(1)]]))).toBe('committed');
      expect(await store.load(2, ['u1', 'u2'])).toEqual({ applied: 10, states: [state(1), undefined] });
    });

    it('refuses a commit whose position is not beyond the stored one (a batch committed twice)', async () => {
      const { store } = make();
      const epoch = (await store.acquire(3, 'a', 10_000)) ?? -1;
      expect(await store.commit(3, epoch, 10, new Map([['u1', state(1)]]))).toBe('committed');
      expect(await store.commit(3, epoch, 10, new Map([['u1', state(9)]]))).toBe('stale');
      expect((await store.load(3, ['u1'])).states).toEqual([state(1)]);
    });

    it('fences a holder whose lease expired and was taken: it can never write again', async () => {
      const { store, expireLeases } = make();
      const paused = (await store.acquire(4, 'a', 200)) ?? -1;
      await expireLeases();
      const taker = (await store.acquire(4, 'b', 10_000)) ?? -1;
      expect(await store.commit(4, taker, 5, new Map([['u1', state(1)]]))).toBe('committed');
      expect(await store.commit(4, paused, 6, new Map([['u1', state(7)]]))).toBe('fenced');
      expect(await store.load(4, ['u1'])).toEqual({ applied: 5, states: [state(1)] });
    });

    it('fences a holder whose lease expired even when nobody took it', async () => {
      const { store, expireLeases } = make();
      const epoch = (await store.acquire(5, 'a', 200)) ?? -1;
      await expireLeases();
      expect(await store.commit(5, epoch, 1, new Map())).toBe('fenced');
    });

    it('a holder that gets the lease back reads what the holder between wrote', async () => {
      const { store, other, expireLeases } = make();
      const first = (await store.acquire(6, 'a', 200)) ?? -1;
      expect(await store.load(6, ['u1', 'u2'])).toEqual({ applied: 0, states: [undefined, undefined] });
      expect(await store.commit(6, first, 1, new Map([['u1', state(1)]]))).toBe('committed');
      expect(await store.load(6, ['u1', 'u2'])).toEqual({ applied: 1, states: [state(1), undefined] });
      await expireLeases();
      const between = (await other.acquire(6, 'b', 200)) ?? -1;
      expect(await other.load(6, ['u1'])).toEqual({ applied: 1, states: [state(1)] });
      const written = new Map([
        ['u1', state(2)],
        ['u2', state(3)],
      ]);
      expect(await other.commit(6, between, 2, written)).toBe('committed');
      await expireLeases();
      expect(await store.acquire(6, 'a', 200)).toBeGreaterThan(between);
      expect(await store.load(6, ['u2', 'u1'])).toEqual({ applied: 2, states: [state(3), state(2)] });
    });
  });
}

let clock = 0;
const advanceClock = () => {
  clock += 1_000;
  return Promise.resolve();
};
contract('memory', () => {
  const store = new MemoryStateStore(() => clock);
  return { store, other: store, expireLeases: advanceClock };
});
contract('memory behind the LRU', () => {
  const store = new MemoryStateStore(() => clock);
  return {
    store: new CachedStateStore(store, 100),
    other: new CachedStateStore(store, 100),
    expireLeases: advanceClock,
  };
});

const redis = new Redis(loadConfig(process.env).redisUrl);
const ns = new Namespace(`t_${randomUUID().replaceAll('-', '').slice(0, 20)}`);
afterAll(async () => {
  const keys = await redis.keys(`${ns.name}_*`);
  if (keys.length > 0) await redis.del(...keys);
  await redis.quit();
});
// Redis expires keys by its own clock: a lease of 200 ms is gone 400 ms later.
const waitForRedis = () => new Promise<void>((resolve) => setTimeout(resolve, 400));
contract('redis', () => {
  const store = new RedisStateStore(redis, new Namespace(`${ns.name}_plain`));
  return { store, other: store, expireLeases: waitForRedis };
});
contract('redis behind the LRU', () => {
  const cachedNs = new Namespace(`${ns.name}_lru`);
  return {
    store: new CachedStateStore(new RedisStateStore(redis, cachedNs), 100),
    other: new CachedStateStore(new RedisStateStore(redis, cachedNs), 100),
    expireLeases: waitForRedis,
  };
});
