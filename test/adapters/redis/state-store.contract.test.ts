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
type Subject = {
  store: StateStore;
  other: StateStore;
  expireLeases: () => Promise<void>;
  /** Loses everything, as a Redis wiped or restarted without its files does. */
  wipe: () => Promise<void>;
};

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
      expect(await store.commit(2, epoch, 0, 10, new Map([['u1', state(1)]]))).toBe('committed');
      expect(await store.load(2, ['u1', 'u2'])).toEqual({ applied: 10, states: [state(1), undefined] });
    });

    it('refuses a commit read from another position than the stored one (a batch committed twice)', async () => {
      const { store } = make();
      const epoch = (await store.acquire(3, 'a', 10_000)) ?? -1;
      expect(await store.commit(3, epoch, 0, 10, new Map([['u1', state(1)]]))).toBe('committed');
      expect(await store.commit(3, epoch, 0, 10, new Map([['u1', state(9)]]))).toBe('stale');
      expect(await store.commit(3, epoch, 0, 11, new Map([['u1', state(9)]]))).toBe('stale');
      expect((await store.load(3, ['u1'])).states).toEqual([state(1)]);
    });

    it('fences a holder whose lease expired and was taken: it can never write again', async () => {
      const { store, expireLeases } = make();
      const paused = (await store.acquire(4, 'a', 200)) ?? -1;
      await expireLeases();
      const taker = (await store.acquire(4, 'b', 10_000)) ?? -1;
      expect(await store.commit(4, taker, 0, 5, new Map([['u1', state(1)]]))).toBe('committed');
      expect(await store.commit(4, paused, 5, 6, new Map([['u1', state(7)]]))).toBe('fenced');
      expect(await store.load(4, ['u1'])).toEqual({ applied: 5, states: [state(1)] });
    });

    it('fences a holder whose lease expired even when nobody took it', async () => {
      const { store, expireLeases } = make();
      const epoch = (await store.acquire(5, 'a', 200)) ?? -1;
      await expireLeases();
      expect(await store.commit(5, epoch, 0, 1, new Map())).toBe('fenced');
    });

    it('a holder that gets the lease back reads what the holder between wrote', async () => {
      const { store, other, expireLeases } = make();
      const first = (await store.acquire(6, 'a', 200)) ?? -1;
      expect(await store.load(6, ['u1', 'u2'])).toEqual({ applied: 0, states: [undefined, undefined] });
      expect(await store.commit(6, first, 0, 1, new Map([['u1', state(1)]]))).toBe('committed');
      expect(await store.load(6, ['u1', 'u2'])).toEqual({ applied: 1, states: [state(1), undefined] });
      await expireLeases();
      const between = (await other.acquire(6, 'b', 200)) ?? -1;
      expect(await other.load(6, ['u1'])).toEqual({ applied: 1, states: [state(1)] });
      const written = new Map([
        ['u1', state(2)],
        ['u2', state(3)],
      ]);
      expect(await other.commit(6, between, 1, 2, written)).toBe('committed');
      await expireLeases();
      expect(await store.acquire(6, 'a', 200)).toBeGreaterThan(between);
      expect(await store.load(6, ['u2', 'u1'])).toEqual({ applied: 2, states: [state(3), state(2)] });
    });

    it('finds out a store that lost its writes: a commit from a position it no longer holds is refused as lost', async () => {
      const { store, wipe } = make();
      const epoch = (await store.acquire(7, 'a', 10_000)) ?? -1;
      expect(await store.commit(7, epoch, 0, 4, new Map([['u1', state(1)]]))).toBe('committed');
      await wipe();
      // The same holder takes the lease again (the epoch may even be the same one): the commit must still fail.
      const again = (await store.acquire(7, 'a', 10_000)) ?? -1;
      expect(await store.commit(7, again, 4, 5, new Map([['u2', state(2)]]))).toBe('lost');
      expect(await store.load(7, ['u1', 'u2'])).toEqual({ applied: 0, states: [undefined, undefined] });
    });

    it('restores a partition that has no position, under the lease, once', async () => {
      const { store, wipe } = make();
      await wipe();
      const epoch = (await store.acquire(8, 'a', 10_000)) ?? -1;
      const many = new Map(Array.from({ length: 2_500 }, (_, i) => [`u${i}`, state(i)] as const));
      expect(await store.restore(8, epoch + 1, 9, many)).toBe('fenced');
      expect(await store.restore(8, epoch, 9, many)).toBe('committed');
      expect(await store.load(8, ['u0', 'u2499'])).toEqual({ applied: 9, states: [state(0), state(2499)] });
      expect(await store.restore(8, epoch, 9, many)).toBe('stale');
      expect(await store.commit(8, epoch, 9, 10, new Map([['u1', state(5)]]))).toBe('committed');
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
  return {
    store,
    other: store,
    expireLeases: advanceClock,
    wipe: () => {
      store.wipe();
      return Promise.resolve();
    },
  };
});
contract('memory behind the LRU', () => {
  const store = new MemoryStateStore(() => clock);
  return {
    store: new CachedStateStore(store, 100),
    other: new CachedStateStore(store, 100),
    expireLeases: advanceClock,
    wipe: () => {
      store.wipe();
      return Promise.resolve();
    },
  };
});

const redis = new Redis(loadConfig(process.env).redisUrl);
const ns = new Namespace(`t_${randomUUID().replaceAll('-', '').slice(0, 20)}`);
afterAll(async () => {
  const keys = await redis.keys(`${ns.name}_*`);
  if (keys.length > 0) await redis.del(...keys);
  await redis.quit();
});
async function wipeNamespace(namespace: Namespace): Promise<void> {
  const keys = await redis.keys(`${namespace.name}:*`);
  if (keys.length > 0) await redis.del(...keys);
}
// Redis expires keys by its own clock: a lease of 200 ms is gone 400 ms later.
const waitForRedis = () => new Promise<void>((resolve) => setTimeout(resolve, 400));
contract('redis', () => {
  const plain = new Namespace(`${ns.name}_plain`);
  const store = new RedisStateStore(redis, plain);
  return { store, other: store, expireLeases: waitForRedis, wipe: () => wipeNamespace(plain) };
});
contract('redis behind the LRU', () => {
  const cachedNs = new Namespace(`${ns.name}_lru`);
  return {
    store: new CachedStateStore(new RedisStateStore(redis, cachedNs), 100),
    other: new CachedStateStore(new RedisStateStore(redis, cachedNs), 100),
    expireLeases: waitForRedis,
    wipe: () => wipeNamespace(cachedNs),
  };
});
