import { execFile, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { openSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ClickHouseLogLevel, createClient } from '@clickhouse/client';
import type { NatsConnection } from 'nats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clusterNatsUrl, clusterRedisUrl } from '../../bin/services/cluster-services.ts';
import { connectNats } from '../../pipeline/adapters/nats/connect-nats.ts';
import { loadConfig, namespaceOf } from '../../pipeline/config/load-config.ts';
import { eventName } from '../../bench/core/workload.ts';
import { connectRedis } from '../../pipeline/adapters/redis/connect-redis.ts';
import { RedisEventCatalog } from '../../pipeline/adapters/redis/redis-event-catalog.ts';
import { awaitDecisions, expectedDecisions, writeWorkloadFiles } from '../e2e/workload-files.ts';

/**
 * Nudge on the clustered NATS of `nudge services up --cluster` (issue #21), run by
 * `npm run test:cluster`, not by `npm test`: three nats-server nodes beside the single services.
 */
const root = new URL('../..', import.meta.url).pathname;
const run = promisify(execFile);
const name = `t_${randomUUID().replaceAll('-', '').slice(0, 20)}`;
const env = {
  ...process.env,
  NUDGE_NAMESPACE: name,
  NUDGE_NATS_URL: clusterNatsUrl(),
  NUDGE_REDIS_URL: clusterRedisUrl(),
  NUDGE_STREAM_REPLICAS: '3',
  NUDGE_PARTITIONS: '4',
  NUDGE_API_PORT: '0',
};
const config = loadConfig(env);
const ns = namespaceOf(config);
const clickhouse = createClient({ url: config.clickhouseUrl, log: { level: ClickHouseLogLevel.OFF } });
const nudge = (...args: string[]) =>
  run(process.execPath, [join(root, 'bin/nudge.js'), ...args], { env, cwd: root });
let nc: NatsConnection;
let matcher: ChildProcess | undefined;

beforeAll(async () => {
  nc = await connectNats(config.natsUrl, 'cluster test');
});

afterAll(async () => {
  matcher?.kill('SIGKILL');
  await nc.drain();
  await clickhouse.close();
  // Through the command, which finds the keys on every master of the Redis Cluster.
  await nudge('namespace', 'drop', name, '--yes');
});

describe('nudge on a 3-node NATS cluster and a Redis Cluster', { timeout: 180_000 }, () => {
  it("makes every stream and bucket (the keys' too) with 3 replicas, and decides what nudge replay decides", async () => {
    const size = { entries: 2_000, users: 200, messages: 20, events: 8 };
    const files = await writeWorkloadFiles('nudge-cluster-', size);
    await nudge('messages', 'apply', '--file', files.messages, '--caps', files.caps);
    const log = openSync(join(tmpdir(), `nudge-cluster-${name}.log`), 'w');
    matcher = spawn(process.execPath, [join(root, 'bin/nudge.js'), 'start'], {
      env,
      cwd: root,
      stdio: ['ignore', log, log],
    });
    await nudge('ingest', '--file', files.log, '--keep-time');
    const expected = await expectedDecisions(await nc.jetstreamManager(), ns, files.log);
    expect(expected.length).toBeGreaterThan(500);
    const stored = await awaitDecisions(clickhouse, ns, expected.length, 120_000);
    expect(stored).toEqual(expected);

    // Every entry in the audit too, and the event catalog kept on the Redis Cluster (its batches span no slots).
    const entriesBy = Date.now() + 60_000;
    let entries = 0;
    while (entries < size.entries && Date.now() < entriesBy) {
      const result = await clickhouse
        .query({
          query: `SELECT uniqExact(partition, seq, position) AS n FROM \`${ns.database}\`.log_entries`,
          format: 'JSONEachRow',
        })
        .then(async (r) => Number((await r.json<{ n: string }>())[0]?.n ?? 0))
        .catch(() => 0);
      entries = result;
      if (entries < size.entries) await new Promise((resolve) => setTimeout(resolve, 500));
    }
    expect(entries).toBe(size.entries);
    const redis = connectRedis(clusterRedisUrl());
    try {
      expect((await new RedisEventCatalog(redis, ns).keys(eventName(0))).length).toBeGreaterThan(0);
    } finally {
      redis.disconnect();
    }
    // A key made through the command: the keys' bucket, made on first use, has the replicas too.
    const { stdout: key } = await nudge('keys', 'create', '--scope', 'ingest', '--name', 'cluster test');
    expect(key.trim()).toMatch(/^nudge_/);
    const jsm = await nc.jetstreamManager();
    const made = new Map<string, { replicas: number; peers: number }>();
    for await (const info of jsm.streams.list())
      if (ns.streams.includes(info.config.name))
        made.set(info.config.name, {
          replicas: info.config.num_replicas,
          peers: 1 + (info.cluster?.replicas?.length ?? 0),
        });
    // Every stream of the namespace, the checkpoints' bucket among them, is there with three copies on three nodes.
    expect([...made.keys()].sort()).toEqual([...ns.streams].sort());
    for (const [stream, shape] of made)
      expect({ stream, ...shape }).toEqual({ stream, replicas: 3, peers: 3 });
  });
});
