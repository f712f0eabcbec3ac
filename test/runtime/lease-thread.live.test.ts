import { leaseClock } from '../../pipeline/ports/lease-keeper.ts';
import { randomUUID } from 'node:crypto';
import type { Worker } from 'node:worker_threads';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import type { LeaseThreadData } from '../../bin/lease-thread.ts';
import { ThreadLeases } from '../../bin/lease-thread.ts';
import { RedisMembership } from '../../pipeline/adapters/redis/redis-membership.ts';
import { RedisStateStore } from '../../pipeline/adapters/redis/redis-state-store.ts';
import { loadConfig } from '../../pipeline/config/load-config.ts';
import { Namespace } from '../../pipeline/namespace.ts';
import type { LeaseKeeper } from '../../pipeline/ports/lease-keeper.ts';
import { InProcessLeases } from '../../pipeline/runtime/in-process-leases.ts';

// Issue #20: a lease that does not lapse while its holder is busy. The test blocks this thread's
// event loop (as a long synchronous batch does) for longer than the lease, and reads the lease in
// Redis afterwards: kept, with the same epoch, when the heartbeat runs on its own thread; lapsed
// and taken again under a new epoch (every batch in flight fenced) when it runs on the loop it
// shares. A thread silent for longer than `aliveMs` lets its leases go.

const config = loadConfig(process.env);
const redis = new Redis(config.redisUrl);
// A lease of 2 s renewed every 200 ms: ten chances for the thread to renew it during each hold,
// on a machine other tests keep busy.
const LEASE = { leaseMs: 2_000, memberTtlMs: 4_000, everyMs: 200 };
const reports: string[] = [];

afterAll(async () => {
  await redis.quit();
});

/** Holds this thread's event loop, as deciding a long batch does. */
function busy(ms: number): void {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    // nothing: the loop is held
  }
}

const epochOf = async (ns: Namespace, partition: number) =>
  redis.hget(`${ns.name}:{p${partition}}:lease`, 'epoch');

function fresh(aliveMs = 10_000): { ns: Namespace; data: LeaseThreadData } {
  const ns = new Namespace(`t_${randomUUID().replaceAll('-', '').slice(0, 20)}`);
  return {
    ns,
    data: {
      redisUrl: config.redisUrl,
      namespace: ns.name,
      holder: 'h1',
      partitions: 2,
      aliveMs,
      ...LEASE,
    },
  };
}

async function withKeeper(keeper: LeaseKeeper, run: () => Promise<void>): Promise<void> {
  await keeper.start();
  try {
    await run();
  } finally {
    await keeper.stop();
  }
}

describe('the lease thread', { timeout: 30_000 }, () => {
  it('keeps the leases, with their epochs, through an event loop held past the lease', async () => {
    const { ns, data } = fresh();
    const keeper = new ThreadLeases(data, (line) => reports.push(line));
    await withKeeper(keeper, async () => {
      expect([...keeper.assigned()]).toEqual([0, 1]);
      const before = await Promise.all([epochOf(ns, 0), epochOf(ns, 1)]);
      // What the matcher's steps read instead of asking Redis: the epochs, held for a lease ahead.
      for (const [partition, epoch] of before.entries()) {
        expect(keeper.held(partition)?.epoch).toBe(Number(epoch));
        expect(keeper.held(partition)?.until).toBeGreaterThan(leaseClock());
      }
      busy(3_000);
      expect(await Promise.all([epochOf(ns, 0), epochOf(ns, 1)])).toEqual(before);
    });
  });

  it('on the shared loop, the same hold lets the lease lapse: a new epoch afterwards (what the thread avoids)', async () => {
    const { ns } = fresh();
    const keeper = new InProcessLeases({
      holder: 'h1',
      partitions: 2,
      membership: new RedisMembership(redis, ns),
      store: new RedisStateStore(redis, ns),
      report: (line) => reports.push(line),
      ...LEASE,
    });
    await withKeeper(keeper, async () => {
      const before = await epochOf(ns, 0);
      busy(3_000);
      const after = await epochOf(ns, 0);
      // Gone, or already taken again by the heartbeat that ran first after the hold.
      expect(after).not.toBe(before);
    });
  });

  it('lets the leases go when the matcher thread is silent for longer than aliveMs', async () => {
    const { ns, data } = fresh(1_000);
    const keeper = new ThreadLeases(data, (line) => reports.push(line));
    await withKeeper(keeper, async () => {
      const before = await epochOf(ns, 0);
      busy(data.aliveMs + LEASE.leaseMs + 1_000);
      expect(await epochOf(ns, 0)).not.toBe(before);
      await expect
        .poll(() => reports.some((line) => line.includes("the matcher's thread has not answered")))
        .toBe(true);
    });
  });

  it('starts the thread again when it ends by itself, and takes the partitions back', async () => {
    const { data } = fresh();
    const keeper = new ThreadLeases(data, (line) => reports.push(line));
    await withKeeper(keeper, async () => {
      expect([...keeper.assigned()]).toEqual([0, 1]);
      // The thread is private: reached here only to end it as a crash in it would.
      const thread = (keeper as unknown as { worker: Worker }).worker;
      await thread.terminate();
      expect(keeper.assigned().size).toBe(0);
      await expect.poll(() => [...keeper.assigned()], { timeout: 10_000 }).toEqual([0, 1]);
      expect(reports).toContain('the lease thread ended; starting it again');
      expect((keeper as unknown as { worker: Worker }).worker).not.toBe(thread);
    });
  });
});
