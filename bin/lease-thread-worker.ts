import { parentPort, workerData } from 'node:worker_threads';
import { connectRedis } from '../pipeline/adapters/redis/connect-redis.ts';
import { RedisMembership } from '../pipeline/adapters/redis/redis-membership.ts';
import { RedisStateStore } from '../pipeline/adapters/redis/redis-state-store.ts';
import { Namespace } from '../pipeline/namespace.ts';
import { InProcessLeases } from '../pipeline/runtime/in-process-leases.ts';
import type { FromLeaseThread, LeaseThreadData } from './lease-thread.ts';

// The body of the lease thread: the matcher's heartbeat on an event loop and a Redis connection of
// its own, renewing only while the matcher's thread says it is alive.

const data = workerData as LeaseThreadData;
const redis = connectRedis(data.redisUrl);
const ns = new Namespace(data.namespace);
const post = (message: FromLeaseThread) => parentPort?.postMessage(message);
let lastAlive = Date.now();
let stalled = false;

const leases = new InProcessLeases({
  holder: data.holder,
  partitions: data.partitions,
  membership: new RedisMembership(redis, ns),
  store: new RedisStateStore(redis, ns),
  leaseMs: data.leaseMs,
  memberTtlMs: data.memberTtlMs,
  ...(data.everyMs === undefined ? {} : { everyMs: data.everyMs }),
  report: (line) => post({ kind: 'report', line }),
  shouldRenew: () => {
    const silent = Date.now() - lastAlive;
    const renew = silent <= data.aliveMs;
    if (!renew && !stalled)
      post({
        kind: 'report',
        line: `the matcher's thread has not answered for ${Math.round(silent / 1000)} s: its leases are let go`,
      });
    stalled = !renew;
    return renew;
  },
  onAssigned: (partitions, held) => post({ kind: 'assigned', partitions: [...partitions], held: [...held] }),
});

parentPort?.on('message', (message: 'alive' | 'stop') => {
  if (message === 'alive') lastAlive = Date.now();
  else
    void leases
      .stop()
      .then(() => redis.quit())
      .finally(() => parentPort?.close());
});

leases.start().catch((error: unknown) => {
  post({ kind: 'failed', message: (error as Error).message });
});
