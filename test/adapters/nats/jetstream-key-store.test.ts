import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { connect } from 'nats';
import type { JetStreamManager, NatsConnection } from 'nats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newApiKey } from '../../../api/auth/api-keys.ts';
import { JetStreamKeyStore } from '../../../pipeline/adapters/nats/jetstream-key-store.ts';
import { RedisKeyStore } from '../../../pipeline/adapters/redis/redis-key-store.ts';
import { loadConfig } from '../../../pipeline/config/load-config.ts';
import { Namespace } from '../../../pipeline/namespace.ts';
import type { ApiKeyRecord } from '../../../pipeline/ports/key-store.ts';

const config = loadConfig(process.env);
const namespaces: Namespace[] = [];
let nc: NatsConnection;
let jsm: JetStreamManager;
let redis: Redis;

beforeAll(async () => {
  nc = await connect({ servers: config.natsUrl });
  jsm = await nc.jetstreamManager();
  redis = new Redis(config.redisUrl);
});

afterAll(async () => {
  for (const ns of namespaces) {
    await jsm.streams.delete(`KV_${ns.keysBucket}`).catch(() => false);
    await wipeRedis(ns);
  }
  await redis.quit();
  await nc.drain();
});

function namespace(): Namespace {
  const ns = new Namespace(`t_${randomUUID().replaceAll('-', '').slice(0, 20)}`);
  namespaces.push(ns);
  return ns;
}

/** What a Redis that lost its data holds for the namespace: nothing. */
async function wipeRedis(ns: Namespace): Promise<void> {
  const keys = await redis.keys(`${ns.name}:*`);
  if (keys.length > 0) await redis.del(...keys);
}

const record = (name: string, createdAt: number): ApiKeyRecord => {
  const { id, hash } = newApiKey();
  return { id, name, scopes: ['ingest'], hash, created_at: createdAt, revoked_at: null };
};

const vapid = (n: number) => ({
  public_key: `public-${n}`,
  private_key: `private-${n}`,
  subject: 'mailto:ops@example.com',
});

describe('the deployment keys in a JetStream key-value bucket', () => {
  it('keeps API keys: put replaces a record, get reads it, list is oldest first; an id no key has is none', async () => {
    const store = new JetStreamKeyStore(nc.jetstream(), namespace());
    const [late, early] = [record('late', 2_000), record('early', 1_000)];
    await store.put(late);
    await store.put(early);
    await store.put({ ...late, revoked_at: 3_000 });
    expect(await store.get(late.id)).toEqual({ ...late, revoked_at: 3_000 });
    expect((await store.list()).map((r) => r.name)).toEqual(['early', 'late']);
    expect(await store.get('0123456789abcdef')).toBeUndefined();
    // Not an id a key can have (a KV key could not hold it): no key, not an error.
    expect(await store.get('../*')).toBeUndefined();
  });

  it('makes each secret once: concurrent first starts agree on one, and a set replaces it', async () => {
    const ns = namespace();
    const stores = [0, 1, 2, 3].map(() => new JetStreamKeyStore(nc.jetstream(), ns));
    const secrets = await Promise.all(stores.map((s, i) => s.ensureClientSecret(`secret-${i}`)));
    expect(new Set(secrets).size).toBe(1);
    const links = await Promise.all(stores.map((s, i) => s.ensureUnsubscribeSecret(`links-${i}`)));
    expect(new Set(links).size).toBe(1);
    const pairs = await Promise.all(stores.map((s, i) => s.ensureVapidKeys(vapid(i))));
    expect(new Set(pairs.map((p) => p.public_key)).size).toBe(1);
    await stores[0]?.setClientSecret('rotated');
    await stores[0]?.setVapidKeys(vapid(9));
    expect(await stores[1]?.clientSecret()).toBe('rotated');
    expect(await stores[1]?.ensureVapidKeys(vapid(7))).toEqual(vapid(9));
  });

  it('adopts the keys a deployment kept in Redis, which then survive the loss of Redis', async () => {
    const ns = namespace();
    const legacy = new RedisKeyStore(redis, ns);
    const [first, second] = [record('first', 1_000), record('second', 2_000)];
    await legacy.put(first);
    await legacy.put(second);
    await legacy.setClientSecret('client-before');
    await legacy.ensureUnsubscribeSecret('links-before');
    await legacy.setVapidKeys(vapid(1));
    const store = new JetStreamKeyStore(nc.jetstream(), ns, legacy);
    // Read through: each found missing here is copied from Redis, the first time it is read.
    expect(await store.get(first.id)).toEqual(first);
    expect((await store.list()).map((r) => r.id)).toEqual([first.id, second.id]);
    // The durable copy wins from then on: the upgraded API revokes here, Redis is not read again.
    await store.put({ ...first, revoked_at: 5_000 });
    expect(await store.ensureClientSecret('new')).toBe('client-before');
    expect(await store.ensureUnsubscribeSecret('new')).toBe('links-before');
    expect(await store.ensureVapidKeys(vapid(2))).toEqual(vapid(1));

    await wipeRedis(ns);
    const after = new JetStreamKeyStore(nc.jetstream(), ns, legacy);
    expect(await after.get(first.id)).toEqual({ ...first, revoked_at: 5_000 });
    expect(await after.get(second.id)).toEqual(second);
    expect(await after.clientSecret()).toBe('client-before');
    expect(await after.unsubscribeSecret()).toBe('links-before');
    expect(await after.vapidKeys()).toEqual(vapid(1));
  });

  it('takes the bucket with the namespace', async () => {
    const ns = namespace();
    await new JetStreamKeyStore(nc.jetstream(), ns).ensureClientSecret('s');
    expect(ns.streams).toContain(`KV_${ns.keysBucket}`);
    expect((await jsm.streams.info(`KV_${ns.keysBucket}`)).config.num_replicas).toBe(ns.streamReplicas);
  });
});
