import { spawnSync } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { connect } from 'nats';
import type { Config } from '../../pipeline/config/load-config.ts';
import type { Report } from './local-services.ts';
import {
  ensureBinary,
  natsServerArgs,
  redisServerArgs,
  startProcess,
  stopStarted,
} from './local-services.ts';
import { acceptsConnections, waitUntil } from './probe.ts';

/**
 * `nudge services up --cluster` (issue #21): the clustered forms of the engines, on loopback
 * ports beside the single services, with their data under `<dataDir>/cluster/`: three nats-server
 * nodes in one JetStream cluster (client ports 4231–4233, routes 6231–6233) and a Redis Cluster of
 * three masters with a replica each (ports 7001–7006). ClickHouse stays one server. What Nudge
 * needs to use them is printed (`NUDGE_NATS_URL`, `NUDGE_REDIS_URL`, `NUDGE_STREAM_REPLICAS`).
 */
export const CLUSTER = {
  nats: [1, 2, 3].map((n) => ({ name: `nats-${n}`, port: 4230 + n, routePort: 6230 + n })),
  redis: [1, 2, 3, 4, 5, 6].map((n) => ({ name: `redis-${n}`, port: 7000 + n })),
} as const;

/** What `NUDGE_NATS_URL` names for the cluster: every node, so a client survives any one's loss. */
export const clusterNatsUrl = (): string =>
  CLUSTER.nats.map((node) => `nats://127.0.0.1:${node.port}`).join(',');

/** What `NUDGE_REDIS_URL` names for the cluster: every node (ioredis's cluster client starts from any). */
export const clusterRedisUrl = (): string =>
  CLUSTER.redis.map((node) => `redis://127.0.0.1:${node.port}`).join(',');

export async function clusterUp(config: Config, report: Report): Promise<void> {
  const root = join(resolve(config.dataDir), 'cluster');
  const natsServer = ensureBinary('nats-server', 'nats-server', report);
  const redisServer = ensureBinary('redis-server', 'redis-server', report);
  const redisCli = ensureBinary('redis-cli', 'redis-tools', report);
  const routes = CLUSTER.nats.map((node) => `nats://127.0.0.1:${node.routePort}`).join(',');
  for (const node of CLUSTER.nats) {
    const dir = join(root, node.name);
    if (await acceptsConnections('127.0.0.1', node.port)) {
      report(`${node.name}: reachable at nats://127.0.0.1:${node.port}, using it`);
      continue;
    }
    await mkdir(join(dir, 'jetstream'), { recursive: true });
    // JetStream in a cluster needs each server named and the cluster named.
    const args = [...natsServerArgs(node.port, dir), '-n', `nudge-${node.name}`, '--cluster_name', 'nudge'];
    args.push('--cluster', `nats://127.0.0.1:${node.routePort}`, '--routes', routes);
    await startProcess(node.name, natsServer, args, dir, report);
  }
  for (const node of CLUSTER.nats)
    await ready(node.name, () => acceptsConnections('127.0.0.1', node.port), 20_000, report);
  await ready('nats cluster', jetStreamAnswers, 60_000, report);

  for (const node of CLUSTER.redis) {
    const dir = join(root, node.name);
    if (await acceptsConnections('127.0.0.1', node.port)) {
      report(`${node.name}: reachable at 127.0.0.1:${node.port}, using it`);
      continue;
    }
    await mkdir(dir, { recursive: true });
    const args = [...redisServerArgs(node.port, dir), '--cluster-enabled', 'yes'];
    args.push('--cluster-config-file', 'nodes.conf', '--cluster-node-timeout', '5000');
    await startProcess(node.name, redisServer, args, dir, report);
  }
  for (const node of CLUSTER.redis)
    await ready(node.name, () => acceptsConnections('127.0.0.1', node.port), 20_000, report);
  if (!CLUSTER.redis.some((node) => clusterOk(redisCli, node.port))) {
    const create = spawnSync(
      redisCli,
      [
        '--cluster',
        'create',
        ...CLUSTER.redis.map((node) => `127.0.0.1:${node.port}`),
        '--cluster-replicas',
        '1',
        '--cluster-yes',
      ],
      { encoding: 'utf8' },
    );
    if (create.status !== 0)
      throw new Error(`redis cluster: redis-cli --cluster create failed: ${create.stdout}${create.stderr}`);
  }
  await ready(
    'redis cluster',
    () => Promise.resolve(CLUSTER.redis.every((node) => clusterOk(redisCli, node.port))),
    30_000,
    report,
  );
  report(`cluster: NUDGE_NATS_URL=${clusterNatsUrl()}`);
  report('cluster: NUDGE_STREAM_REPLICAS=3');
  report(`cluster: NUDGE_REDIS_URL=${clusterRedisUrl()} (3 masters, a replica each)`);
}

/** Stops every cluster node `clusterUp` started, and only those; `quiet`: no word of the others. */
export async function clusterDown(config: Config, report: Report, quiet = false): Promise<void> {
  const root = join(resolve(config.dataDir), 'cluster');
  const tell: Report = (line) => {
    if (!(quiet && line.endsWith('left alone'))) report(line);
  };
  for (const node of [...CLUSTER.nats, ...CLUSTER.redis])
    await stopStarted(node.name, join(root, node.name), tell);
}

async function ready(
  name: string,
  check: () => Promise<boolean>,
  timeoutMs: number,
  report: Report,
): Promise<void> {
  if (!(await waitUntil(check, timeoutMs))) throw new Error(`${name}: not ready after ${timeoutMs / 1000} s`);
  report(`${name}: ready`);
}

/** The JetStream cluster has a meta leader: an account info request through any node is answered. */
async function jetStreamAnswers(): Promise<boolean> {
  try {
    const nc = await connect({ servers: clusterNatsUrl(), timeout: 2_000 });
    try {
      await (await nc.jetstreamManager({ timeout: 2_000 })).getAccountInfo();
      return true;
    } finally {
      await nc.close();
    }
  } catch {
    return false;
  }
}

function clusterOk(redisCli: string, port: number): boolean {
  const info = spawnSync(redisCli, ['-p', String(port), 'cluster', 'info'], { encoding: 'utf8' });
  return info.status === 0 && info.stdout.includes('cluster_state:ok');
}
