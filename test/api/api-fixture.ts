import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { ClickHouseLogLevel, createClient } from '@clickhouse/client';
import { Redis } from 'ioredis';
import type { JetStreamManager, NatsConnection } from 'nats';
import { RedisKeyStore } from '../../pipeline/adapters/redis/redis-key-store.ts';
import { JetStreamKeyStore } from '../../pipeline/adapters/nats/jetstream-key-store.ts';
import type { Scope } from '../../api/auth/api-keys.ts';
import { newApiKey } from '../../api/auth/api-keys.ts';
import { userHash } from '../../api/auth/user-hash.ts';
import { buildApi } from '../../api/app.ts';
import { apiPorts } from '../../bin/api-ports.ts';
import { connectNats } from '../../pipeline/adapters/nats/connect-nats.ts';
import { ensureCatalogStream } from '../../pipeline/adapters/nats/catalog-stream.ts';
import { decodePack } from '../../pipeline/adapters/nats/packs.ts';
import { ensureLogStream } from '../../pipeline/adapters/nats/log-stream.ts';
import { loadConfig } from '../../pipeline/config/load-config.ts';
import type { LogEntry } from '../../pipeline/core/log-entry.ts';
import { Namespace } from '../../pipeline/namespace.ts';
import { NudgeMetrics } from '../../pipeline/runtime/metrics.ts';

const config = loadConfig(process.env);
export const PARTITIONS = 4;
export const NOW = 1_793_610_000_000;
/** The client secret of every fixture: user hashes in tests are made with it. */
export const CLIENT_SECRET = 'test-client-secret-0123456789abcdefghijklmnopqr';

/** The headers a page of `userId` sends with a client key. */
export const clientHeaders = (userId: string): Record<string, string> => ({
  'x-nudge-user-id': encodeURIComponent(userId),
  'x-nudge-user-hash': userHash(CLIENT_SECRET, userId),
});

/**
 * The API on the real NATS and Redis, in a fresh namespace, with one key per scope (and a revoked
 * one). `withoutLog`: the namespace has no log stream, so JetStream cannot store an entry and the
 * API must answer 503.
 */
export async function apiFixture(
  options: {
    withoutLog?: boolean;
    perKeyPerMinute?: number;
    anonymousPerMinute?: number;
    clientOrigins?: readonly string[];
    /** The API's clock: the fixed `NOW` unless a test needs time to pass (a replay of "the last 7 days"). */
    now?: () => number;
  } = {},
) {
  const now = options.now ?? (() => NOW);
  const ns = new Namespace(`t_${randomUUID().replaceAll('-', '').slice(0, 20)}`);
  const nc: NatsConnection = await connectNats(config.natsUrl, 'api test');
  const jsm: JetStreamManager = await nc.jetstreamManager();
  if (options.withoutLog !== true) await ensureLogStream(jsm, ns, PARTITIONS);
  const redis = new Redis(config.redisUrl);
  const clickhouse = createClient({ url: config.clickhouseUrl, log: { level: ClickHouseLogLevel.OFF } });
  const keyStore = new JetStreamKeyStore(nc.jetstream(), ns, new RedisKeyStore(redis, ns));
  const keys = {} as Record<Scope | 'revoked', string>;
  await keyStore.setClientSecret(CLIENT_SECRET);
  for (const scope of ['ingest', 'read', 'admin', 'client', 'revoked'] as const) {
    const { id, key, hash } = newApiKey();
    await keyStore.put({
      id,
      name: `test ${scope}`,
      scopes: [scope === 'revoked' ? 'admin' : scope],
      hash,
      created_at: NOW,
      revoked_at: scope === 'revoked' ? NOW : null,
    });
    keys[scope] = key;
  }
  await ensureCatalogStream(jsm, ns);
  const metrics = new NudgeMetrics();
  const { rateLimitStore, ...ports } = apiPorts({
    nc,
    jsm,
    redis,
    clickhouse,
    ns,
    partitions: PARTITIONS,
    now,
  });
  const app: FastifyInstance = await buildApi({
    ...ports,
    keys: keyStore,
    clientSecrets: keyStore,
    clientOrigins: options.clientOrigins ?? [],
    partitions: PARTITIONS,
    now,
    metrics,
    // High unless a test is about the limits: the fuzz tests send tens of thousands of requests.
    rateLimits: {
      store: rateLimitStore,
      perKeyPerMinute: options.perKeyPerMinute ?? 1_000_000_000,
      anonymousPerMinute: options.anonymousPerMinute ?? 1_000_000_000,
    },
    ready: () => Promise.resolve({ nats: !nc.isClosed(), redis: redis.status === 'ready', clickhouse: true }),
  });
  return {
    app,
    ns,
    keys,
    /** The deployment's keys, as the API reads them. */
    keyStore,
    nc,
    redis,
    clickhouse,
    metrics,
    /** Every entry in the namespace's log, in stream order. */
    async logged(): Promise<LogEntry[]> {
      const info = await jsm.streams.info(ns.logStream);
      const entries: LogEntry[] = [];
      for (let seq = info.state.first_seq; seq <= info.state.last_seq && info.state.messages > 0; seq++) {
        const message = await jsm.streams.getMessage(ns.logStream, { seq });
        entries.push(...decodePack(message.data, `seq ${seq}`));
      }
      return entries;
    },
    async close(): Promise<void> {
      await app.close();
      // Every stream of the namespace: a test send makes the deliveries stream, a matcher the rest.
      for (const stream of ns.streams) await jsm.streams.delete(stream).catch(() => false);
      await nc.drain();
      const keys = await redis.keys(`${ns.name}:*`);
      if (keys.length > 0) await redis.del(...keys);
      await redis.quit();
      await clickhouse.command({ query: `DROP DATABASE IF EXISTS ${ns.database}` });
      await clickhouse.close();
    },
  };
}
