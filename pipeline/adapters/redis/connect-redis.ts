import type { ClusterOptions, RedisOptions } from 'ioredis';
import { Cluster, Redis } from 'ioredis';

/** A connection to one Redis server or to a Redis Cluster: the adapters use the commands both have. */
export type RedisClient = Redis | Cluster;

/**
 * A connection as every nudge process makes it, from `NUDGE_REDIS_URL`: one `redis://` URL is one
 * server; several, separated by commas, are nodes of a Redis Cluster (any of them: ioredis learns
 * the rest and follows the slots as they move, a replica promoted after its master's loss included).
 * The keys of every script call share one hash tag (a partition's, `Namespace.redisKey`; a user's
 * inbox, `Namespace.inboxKey`; a catalog's), so each call lands in one slot (`npm run test:cluster`
 * checks).
 */
export function connectRedis(url: string, options: RedisOptions = {}): RedisClient {
  const urls = url.split(',');
  if (urls.length === 1) return new Redis(url, options);
  const nodes = urls.map((node) => {
    const parsed = new URL(node);
    return { host: parsed.hostname, port: parsed.port === '' ? 6379 : Number(parsed.port) };
  });
  const first = new URL(urls[0] ?? url);
  const clusterOptions: ClusterOptions = {
    redisOptions: {
      ...options,
      ...(first.username === '' ? {} : { username: decodeURIComponent(first.username) }),
      ...(first.password === '' ? {} : { password: decodeURIComponent(first.password) }),
      ...(first.protocol === 'rediss:' ? { tls: {} } : {}),
    },
    // The options that are the cluster's own, not each node connection's.
    enableAutoPipelining: options.enableAutoPipelining ?? false,
    lazyConnect: options.lazyConnect ?? false,
    ...(options.retryStrategy === undefined ? {} : { clusterRetryStrategy: options.retryStrategy }),
  };
  return new Cluster(nodes, clusterOptions);
}
