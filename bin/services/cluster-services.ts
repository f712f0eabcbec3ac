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
/** Where a cluster's nodes listen: each NATS node's client and route ports, each Redis node's port. */
export type ClusterLayout = {
  readonly nats: readonly { readonly name: string; readonly port: number; readonly routePort: number }[];
  readonly redis: readonly { readonly name: string; readonly port: number }[];
  /** How long a Redis master may be silent before its replica is promoted. */
  readonly redisNodeTimeoutMs: number;
};

/** Three NATS nodes (client ports `natsBase`+1…3, routes `routeBase`+1…3) and six Redis nodes (`redisBase`+1…6). */
export function clusterLayout(
  natsBase: number,
  routeBase: number,
  redisBase: number,
  redisNodeTimeoutMs = 5_000,
): ClusterLayout {
  return {
    nats: [1, 2, 3].map((n) => ({ name: `nats-${n}`, port: natsBase + n, routePort: routeBase + n })),
    redis: [1, 2, 3, 4, 5, 6].map((n) => ({ name: `redis-${n}`, port: redisBase + n })),
    redisNodeTimeoutMs,
  };
}

export const CLUSTER = clusterLayout(4230, 6230, 7000);

/** What `NUDGE_NATS_URL` names for a cluster: every node, so a client survives any one's loss. */
export const clusterNatsUrl = (layout: ClusterLayout = CLUSTER): string =>
  layout.nats.map((node) => `nats://127.0.0.1:${node.port}`).join(',');

/** What `NUDGE_REDIS_URL` names for a cluster: every node (ioredis's cluster client starts from any). */
export const clusterRedisUrl = (layout: ClusterLayout = CLUSTER): string =>
  layout.redis.map((node) => `redis://127.0.0.1:${node.port}`).join(',');

/** A NATS node's arguments: the single server's, named, in the cluster `nudge`, routed to every node. */
export function natsNodeArgs(
  layout: ClusterLayout,
  node: ClusterLayout['nats'][number],
  dir: string,
): string[] {
  const routes = layout.nats.map((n) => `nats://127.0.0.1:${n.routePort}`).join(',');
  // JetStream in a cluster needs each server named and the cluster named.
  return [
    ...natsServerArgs(node.port, dir),
    ...['-n', `nudge-${node.name}`, '--cluster_name', 'nudge'],
    ...['--cluster', `nats://127.0.0.1:${node.routePort}`, '--routes', routes],
  ];
}

/** A Redis node's arguments: the single server's, with cluster mode on and its state in `nodes.conf`. */
export function redisNodeArgs(
  layout: ClusterLayout,
  node: ClusterLayout['redis'][number],
  dir: string,
): string[] {
  return [
    ...redisServerArgs(node.port, dir),
    ...['--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf'],
    ...['--cluster-node-timeout', String(layout.redisNodeTimeoutMs)],
  ];
}

export async function clusterUp(config: Config, report: Report): Promise<void> {
  const root = join(resolve(config.dataDir), 'cluster');
  const natsServer = ensureBinary('nats-server', 'nats-server', report);
  const redisServer = ensureBinary('redis-server', 'redis-server', report);
  const redisCli = ensureBinary('redis-cli', 'redis-tools', report);
  for (const node of CLUSTER.nats) {
    const dir = join(root, node.name);
    if (await acceptsConnections('127.0.0.1', node.port)) {
      report(`${node.name}: reachable at nats://127.0.0.1:${node.port}, using it`);
      continue;
    }
    await mkdir(join(dir, 'jetstream'), { recursive: true });
    await startProcess(node.name, natsServer, natsNodeArgs(CLUSTER, node, dir), dir, report);
  }
  for (const node of CLUSTER.nats)
    await ready(node.name, () => acceptsConnections('127.0.0.1', node.port), 20_000, report);
  await ready('nats cluster', () => jetStreamAnswers(clusterNatsUrl()), 60_000, report);

  for (const node of CLUSTER.redis) {
    const dir = join(root, node.name);
    if (await acceptsConnections('127.0.0.1', node.port)) {
      report(`${node.name}: reachable at 127.0.0.1:${node.port}, using it`);
      continue;
    }
    await mkdir(dir, { recursive: true });
    await startProcess(node.name, redisServer, redisNodeArgs(CLUSTER, node, dir), dir, report);
  }
  for (const node of CLUSTER.redis)
    await ready(node.name, () => acceptsConnections('127.0.0.1', node.port), 20_000, report);
  formRedisCluster(redisCli, CLUSTER);
  await ready('redis cluster', () => Promise.resolve(redisClusterOk(redisCli, CLUSTER)), 30_000, report);
  report(`cluster: NUDGE_NATS_URL=${clusterNatsUrl()}`);
  report('cluster: NUDGE_STREAM_REPLICAS=3');
  report(`cluster: NUDGE_REDIS_URL=${clusterRedisUrl()} (3 masters, a replica each)`);
}

/** Makes the Redis nodes one cluster of three masters with a replica each, unless some node already is in one. */
export function formRedisCluster(redisCli: string, layout: ClusterLayout): void {
  if (layout.redis.some((node) => clusterOk(redisCli, node.port))) return;
  const create = spawnSync(
    redisCli,
    [
      '--cluster',
      'create',
      ...layout.redis.map((node) => `127.0.0.1:${node.port}`),
      '--cluster-replicas',
      '1',
      '--cluster-yes',
    ],
    { encoding: 'utf8' },
  );
  if (create.status !== 0)
    throw new Error(`redis cluster: redis-cli --cluster create failed: ${create.stdout}${create.stderr}`);
}

/** Every node of the Redis cluster says the cluster is whole (every slot served). */
export const redisClusterOk = (redisCli: string, layout: ClusterLayout): boolean =>
  layout.redis.every((node) => clusterOk(redisCli, node.port));

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
export async function jetStreamAnswers(url: string): Promise<boolean> {
  try {
    const nc = await connect({ servers: url.split(','), timeout: 2_000 });
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
