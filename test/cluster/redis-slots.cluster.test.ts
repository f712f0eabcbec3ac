import { randomUUID } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import { Cluster } from 'ioredis';
import type { Command } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { clusterRedisUrl } from '../../bin/services/cluster-services.ts';
import { connectRedis } from '../../pipeline/adapters/redis/connect-redis.ts';
import { RedisAttributeCatalog } from '../../pipeline/adapters/redis/redis-attribute-catalog.ts';
import { RedisInbox } from '../../pipeline/adapters/redis/redis-inbox.ts';
import { redisRateLimitStore } from '../../pipeline/adapters/redis/redis-rate-limit-store.ts';
import { RedisStateStore } from '../../pipeline/adapters/redis/redis-state-store.ts';
import { EMPTY_USER_STATE } from '../../pipeline/core/user-state.ts';
import { Namespace } from '../../pipeline/namespace.ts';

/**
 * Every Lua script on the Redis Cluster of `nudge services up --cluster` (issue #21): each call's
 * keys in one slot, as the cluster requires of a script (it refuses the call otherwise, CROSSSLOT).
 */
const cluster = connectRedis(clusterRedisUrl());
const ns = new Namespace(`t_${randomUUID().replaceAll('-', '').slice(0, 20)}`);

/** The keys of every script call the adapters send (EVALSHA, or EVAL when the node lacks the script). */
const scriptCalls: { script: string; keys: string[] }[] = [];
const send = cluster.sendCommand.bind(cluster);
cluster.sendCommand = (command: Command, ...rest: unknown[]) => {
  if (command.name === 'evalsha' || command.name === 'eval') {
    const [script, count, ...rest2] = command.args.map(String);
    scriptCalls.push({ script: script ?? '', keys: rest2.slice(0, Number(count)) });
  }
  return (send as (command: Command, ...rest: unknown[]) => unknown)(command, ...rest);
};

afterAll(async () => {
  if (cluster instanceof Cluster)
    for (const node of cluster.nodes('master')) {
      const keys = await node.keys(`${ns.name}:*`);
      for (const key of keys) await node.unlink(key);
    }
  await cluster.quit();
});

describe('the Lua scripts on a Redis Cluster', () => {
  it('each call touches keys of one slot, and every script is called', async () => {
    expect(cluster).toBeInstanceOf(Cluster);
    const states = new RedisStateStore(cluster, ns);
    const users = Array.from({ length: 20 }, (_, i) => `user-${i}`);
    const epoch = (await states.acquire(3, 'holder', 10_000)) ?? 0;
    expect(epoch).toBeGreaterThan(0);
    const state = new Map(users.map((user) => [user, EMPTY_USER_STATE]));
    // A rebuild restores an empty partition; then batches commit on top of it.
    expect(await states.restore(3, epoch, 9, state)).toBe('committed');
    expect(await states.commit(3, epoch, 9, 15, state)).toBe('committed');
    expect((await states.load(3, users)).applied).toBe(15);

    const inbox = new RedisInbox(cluster, ns);
    const message = {
      decision_id: 'd1',
      message_id: 'm',
      channel: 'banner' as const,
      subject: null,
      body: 'hi',
      at: 1,
    };
    expect((await inbox.add('someone', message)).added).toBe(true);
    expect(await inbox.list('someone')).toHaveLength(1);
    expect((await inbox.mark('someone', 'd1', 'seen'))?.first).toBe(true);

    await new RedisAttributeCatalog(cluster, ns).record(
      users.map((user, i) => ({
        type: 'identify',
        id: `e${i}`,
        user_id: user,
        received_at: i,
        attributes: { [`k${i}`]: i },
      })),
    );

    const Store = redisRateLimitStore(cluster, `${ns.name}:rate:`);
    const store = new Store({});
    await new Promise<void>((resolve, reject) => {
      store.incr(
        'somebody',
        (error) => {
          if (error === null) resolve();
          else reject(error);
        },
        60_000,
        100,
      );
    });

    const scripts = (
      await readdir(new URL('../../pipeline/adapters/redis/scripts/', import.meta.url))
    ).filter((f) => f.endsWith('.lua'));
    expect(new Set(scriptCalls.map((call) => call.script)).size).toBe(scripts.length);
    for (const call of scriptCalls) {
      const slots = new Set<unknown>();
      for (const key of call.keys) slots.add(await cluster.cluster('KEYSLOT', key));
      expect({ keys: call.keys.length, slots: slots.size }).toEqual({ keys: call.keys.length, slots: 1 });
    }
  });
});
