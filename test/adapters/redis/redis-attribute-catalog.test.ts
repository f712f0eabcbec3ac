import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { RedisAttributeCatalog } from '../../../pipeline/adapters/redis/redis-attribute-catalog.ts';
import { loadConfig } from '../../../pipeline/config/load-config.ts';
import type { LogEntry } from '../../../pipeline/core/log-entry.ts';
import type { FlatObject } from '../../../pipeline/core/scalar.ts';
import { Namespace } from '../../../pipeline/namespace.ts';

const redis = new Redis(loadConfig(process.env).redisUrl);
const namespaces: Namespace[] = [];

/** A catalog in a fresh namespace, removed after the file. */
function catalog(bound?: number) {
  const ns = new Namespace(`t_${randomUUID().replaceAll('-', '').slice(0, 20)}`);
  namespaces.push(ns);
  return { ns, catalog: new RedisAttributeCatalog(redis, ns, bound) };
}

afterAll(async () => {
  for (const ns of namespaces) {
    const keys = await redis.keys(`${ns.name}:*`);
    if (keys.length > 0) await redis.del(...keys);
  }
  await redis.quit();
});

let n = 0;
const identify = (user_id: string, attributes: FlatObject, received_at = 1_000): LogEntry => ({
  type: 'identify',
  id: `i${++n}`,
  user_id,
  received_at,
  attributes,
});

/** Everything the namespace holds in Redis, to compare before and after. */
async function dump(ns: Namespace): Promise<Record<string, string>> {
  const keys = (await redis.keys(`${ns.name}:*`)).sort();
  const values = await Promise.all(keys.map(async (key) => (await redis.dumpBuffer(key)).toString('hex')));
  return Object.fromEntries(keys.map((key, i) => [key, values[i] ?? '']));
}

describe('RedisAttributeCatalog', () => {
  it('keeps each key with its types, its users and when it was last set, the most widespread first', async () => {
    const { catalog: c } = catalog();
    await c.record([
      identify('ada', { plan: 'pro', email: 'ada@example.com', seats: 3 }, 1_000),
      identify('bob', { plan: 'free', seats: '3' }, 3_000),
      identify('ada', { plan: 'team', beta: true }, 2_000),
      { type: 'track', id: 't1', name: 'upload', user_id: 'cy', received_at: 9_000, metadata: { size: 1 } },
    ]);
    expect(await c.attributes(10)).toEqual([
      { key: 'plan', types: ['string'], users: 2, last_seen: 3_000 },
      { key: 'seats', types: ['number', 'string'], users: 2, last_seen: 3_000 },
      { key: 'beta', types: ['boolean'], users: 1, last_seen: 2_000 },
      { key: 'email', types: ['string'], users: 1, last_seen: 1_000 },
    ]);
    expect((await c.attributes(2)).map((a) => a.key)).toEqual(['plan', 'seats']);
  });

  it('keeps no value, only keys, types and user counts', async () => {
    const { ns, catalog: c } = catalog();
    await c.record([identify('ada', { email: 'ada@example.com', phone: '+33612345678' })]);
    const stored = Object.values(await dump(ns)).join('');
    for (const value of ['ada@example.com', '+33612345678'])
      expect(stored).not.toContain(Buffer.from(value).toString('hex'));
  });

  it('changes nothing when a batch is recorded again, and keeps the latest time (an older one does not move it)', async () => {
    const { ns, catalog: c } = catalog();
    const batch = [
      identify('ada', { plan: 'pro' }, 5_000),
      identify('bob', { plan: 'free', seats: 2 }, 4_000),
    ];
    await c.record(batch);
    const once = await dump(ns);
    await c.record(batch);
    await c.record([batch[1] as LogEntry, batch[0] as LogEntry]);
    expect(await dump(ns)).toEqual(once);
    await c.record([identify('ada', { plan: 'pro' }, 1_000)]);
    expect(await c.attributes(10)).toEqual([
      { key: 'plan', types: ['string'], users: 2, last_seen: 5_000 },
      { key: 'seats', types: ['number'], users: 1, last_seen: 4_000 },
    ]);
  });

  it('takes a null for a removal: not a type, a user or a time', async () => {
    const { catalog: c } = catalog();
    await c.record([
      identify('ada', { plan: 'pro', coupon: null }, 1_000),
      identify('bob', { plan: null }, 2_000),
    ]);
    expect(await c.attributes(10)).toEqual([{ key: 'plan', types: ['string'], users: 1, last_seen: 1_000 }]);
  });

  it('counts distinct users approximately, within 2% for thousands, over batches split across script calls', async () => {
    const { catalog: c } = catalog();
    const users = Array.from({ length: 25_000 }, (_, i) => `user-${i}`);
    await c.record(users.map((user) => identify(user, { plan: 'pro', tier: 1 })));
    const [plan, tier] = await c.attributes(10);
    expect(plan?.users).toBeGreaterThan(25_000 * 0.98);
    expect(plan?.users).toBeLessThan(25_000 * 1.02);
    expect(tier?.users).toBe(plan?.users);
  });

  it('keeps at most its bound of keys: a new key past it is not recorded, a kept one still is', async () => {
    const { ns, catalog: c } = catalog(3);
    await c.record([identify('ada', { a: 1, b: 1 }, 1_000)]);
    await c.record([identify('bob', { c: 1, d: 1, e: 1 }, 2_000)]);
    await c.record([identify('cy', { a: 'x', f: 1 }, 3_000)]);
    expect(await c.attributes(10)).toEqual([
      { key: 'a', types: ['number', 'string'], users: 2, last_seen: 3_000 },
      { key: 'b', types: ['number'], users: 1, last_seen: 1_000 },
      { key: 'c', types: ['number'], users: 1, last_seen: 2_000 },
    ]);
    const keys = await redis.keys(`${ns.name}:*`);
    expect(keys.filter((key) => key.includes(':users:')).sort()).toEqual(
      ['a', 'b', 'c'].map((key) => `${ns.name}:{user_attrs}:users:${key}`),
    );
  });

  it('answers an empty list before anything is recorded', async () => {
    expect(await catalog().catalog.attributes(200)).toEqual([]);
  });
});
