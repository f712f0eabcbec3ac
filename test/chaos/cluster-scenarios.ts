import type { ChildProcess } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import type { ClusterLayout } from '../../bin/services/cluster-services.ts';
import { kill } from './chaos-stack.ts';
import type { ChaosStack } from './chaos-stack.ts';
import type { Run, Scenario } from './scenarios.ts';

/**
 * The faults of issue #21, on the private clusters of `ChaosStack.start(base, true)` (three NATS
 * nodes with every stream at R3, a Redis Cluster of three masters with a replica each): run by
 * `npm run chaos -- <scenario> --cluster`, or all of them by `npm run chaos -- all --cluster`.
 */

const elapsed = (since: number) => `${((Date.now() - since) / 1000).toFixed(1)} s`;

function layoutOf(stack: ChaosStack): ClusterLayout {
  if (stack.cluster === undefined) throw new Error('a cluster scenario needs the clusters (--cluster)');
  return stack.cluster;
}

/** Polls `check` every 100 ms until it answers a value, for at most `ms`; the ms it took, or undefined. */
async function within<T>(
  ms: number,
  check: () => Promise<T | undefined>,
): Promise<{ value: T; ms: number } | undefined> {
  const started = Date.now();
  while (Date.now() - started < ms) {
    const value = await check().catch(() => undefined);
    if (value !== undefined) return { value, ms: Date.now() - started };
    await sleep(100);
  }
  return undefined;
}

/** The NATS node leading a stream's RAFT group (`nats-2`), as any node answers. */
async function streamLeader(run: Run, stream: string): Promise<string | undefined> {
  const leader = (await run.services.jsm.streams.info(stream)).cluster?.leader;
  return leader?.replace(/^nudge-/, '');
}

/** The Redis node serving `key`'s slot as master, asked of the node on `port`. */
async function masterOf(port: number, key: string, layout: ClusterLayout): Promise<string | undefined> {
  const redis = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 1 });
  redis.on('error', () => undefined);
  try {
    await redis.connect();
    const slot = Number(await redis.call('CLUSTER', 'KEYSLOT', key));
    const ranges = (await redis.call('CLUSTER', 'SLOTS')) as [number, number, [string, number, string]][];
    const range = ranges.find(([from, to]) => slot >= from && slot <= to);
    return layout.redis.find((node) => node.port === range?.[2][1])?.name;
  } finally {
    redis.disconnect();
  }
}

/** Each partition's lease holder (undefined: not held), as the states' Redis holds them. */
async function leaseHolders(run: Run): Promise<(string | undefined)[]> {
  const { redis, ns, partitions } = run.services;
  const holders: (string | undefined)[] = [];
  for (let p = 0; p < partitions; p++)
    holders.push((await redis.hget(ns.redisKey(p, 'lease'), 'holder')) ?? undefined);
  return holders;
}

/** A matcher's holder names carry its pid: `<host>:<pid>:<id>`. */
const heldBy = (holder: string | undefined, child: ChildProcess) =>
  holder !== undefined && holder.split(':')[1] === String(child.pid);

export const CLUSTER_SCENARIOS: readonly Scenario[] = [
  {
    name: 'nats-leader-kill',
    summary: 'the NATS node leading the log stream SIGKILLed under load, restarted 5 s later',
    seconds: { short: 30, full: 180 },
    matchers: 1,
    faults: async (run, length) => {
      const kills = length === 'short' ? 1 : 3;
      const notes: string[] = [];
      for (let i = 0; i < kills; i++) {
        await sleep(6_000 + 2_000 * run.random());
        const stream = run.services.ns.logStream;
        const leader = await streamLeader(run, stream);
        if (leader === undefined) throw new Error(`${stream} has no leader to kill`);
        const killed = Date.now();
        await run.stack.down(leader, 'SIGKILL');
        const next = await within(30_000, async () => {
          const now = await streamLeader(run, stream);
          return now !== undefined && now !== leader ? now : undefined;
        });
        notes.push(
          `${leader} (leading ${stream}) SIGKILLed; ${next === undefined ? 'no new leader within 30 s' : `${next.value} led it ${(next.ms / 1000).toFixed(1)} s later`}`,
        );
        await sleep(Math.max(0, 5_000 - (Date.now() - killed)));
        await run.stack.upNode(leader);
      }
      return {
        injected: kills,
        what: 'SIGKILL of the log stream’s leading NATS node, restarted 5 s later',
        notes,
      };
    },
  },
  {
    name: 'redis-master-kill',
    summary:
      'the Redis master holding partition 0 SIGKILLed under load: its replica is promoted, and the old master rejoins as a replica',
    seconds: { short: 35, full: 180 },
    matchers: 2,
    faults: async (run, length) => {
      const layout = layoutOf(run.stack);
      const kills = length === 'short' ? 1 : 3;
      const notes: string[] = [];
      const key = run.services.ns.redisKey(0, 'lease');
      for (let i = 0; i < kills; i++) {
        await sleep(8_000 + 2_000 * run.random());
        const killed = await masterOf(layout.redis[0]?.port ?? 0, key, layout);
        if (killed === undefined) throw new Error(`no master serves ${key}`);
        await run.stack.down(killed, 'SIGKILL');
        // Asked of a node still up: which node serves the slot now.
        const asked = layout.redis.find((node) => node.name !== killed)?.port ?? 0;
        const promoted = await within(30_000, async () => {
          const now = await masterOf(asked, key, layout);
          return now !== undefined && now !== killed ? now : undefined;
        });
        notes.push(
          `${killed} (master of partition 0) SIGKILLed; ${promoted === undefined ? 'no replica promoted within 30 s' : `${promoted.value} promoted ${(promoted.ms / 1000).toFixed(1)} s later`}`,
        );
        await sleep(5_000);
        await run.stack.upNode(killed);
      }
      return {
        injected: kills,
        what: 'SIGKILL of a Redis master (its replica promoted after 2 s of silence), restarted 5 s later',
        notes,
      };
    },
  },
  {
    name: 'matchers-churn',
    summary: 'three matchers; one SIGKILLed, then another added: the partitions move to the living',
    seconds: { short: 40, full: 180 },
    matchers: 3,
    faults: async (run, length) => {
      const rounds = length === 'short' ? 1 : 3;
      const notes: string[] = [];
      for (let i = 0; i < rounds; i++) {
        await sleep(6_000 + 2_000 * run.random());
        const victim = run.matchers.shift();
        if (victim === undefined) break;
        const owned = (await leaseHolders(run)).filter((holder) => heldBy(holder, victim)).length;
        const killed = Date.now();
        await kill(victim);
        // Moved: every partition held, and none by the dead process.
        const moved = await within(60_000, async () => {
          const holders = await leaseHolders(run);
          return holders.every((h) => h !== undefined && !heldBy(h, victim)) ? holders : undefined;
        });
        notes.push(
          `matcher SIGKILLed holding ${owned} partitions: ${moved === undefined ? 'not all held by the others within 60 s' : `all ${run.services.partitions} held by the others ${(moved.ms / 1000).toFixed(1)} s later`}`,
        );
        await sleep(4_000);
        const added = run.startMatcher();
        const started = Date.now();
        await run.stack.untilRunning(added, 60_000);
        const share = await within(60_000, async () =>
          (await leaseHolders(run)).some((h) => heldBy(h, added)) ? true : undefined,
        );
        notes.push(
          `matcher added: ${share === undefined ? 'no partition within 60 s' : `it held a partition ${elapsed(started)} after it started`}, ${elapsed(killed)} after the SIGKILL`,
        );
      }
      return {
        injected: rounds,
        what: 'SIGKILL of one of three matchers, then a matcher added',
        notes,
      };
    },
  },
];
