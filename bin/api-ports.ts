import type { ClickHouseClient } from '@clickhouse/client';
import type { RedisClient } from '../pipeline/adapters/redis/connect-redis.ts';
import type { JetStreamClient, JetStreamManager, NatsConnection } from 'nats';
import { migrateAudit } from '../pipeline/adapters/clickhouse/audit-schema.ts';
import { ClickHouseAuditReader } from '../pipeline/adapters/clickhouse/clickhouse-audit-reader.ts';
import { ClickHouseInAppOutcomes } from '../pipeline/adapters/clickhouse/clickhouse-inapp-outcomes.ts';
import { ClickHouseRecordedLog } from '../pipeline/adapters/clickhouse/recorded-log.ts';
import { ClickHouseReplayStore } from '../pipeline/adapters/clickhouse/replay-store.ts';
import { ReplayThreads } from './replay-threads.ts';
import { JetStreamDeliveryPublisher } from '../pipeline/adapters/nats/jetstream-delivery-publisher.ts';
import { JetStreamMessageCatalog } from '../pipeline/adapters/nats/jetstream-message-catalog.ts';
import { JetStreamPublisher } from '../pipeline/adapters/nats/jetstream-publisher.ts';
import { LogAppender } from '../pipeline/adapters/nats/log-appender.ts';
import { NatsInAppFeed } from '../pipeline/adapters/nats/nats-inapp-feed.ts';
import { RedisInbox } from '../pipeline/adapters/redis/redis-inbox.ts';
import { RedisEventCatalog } from '../pipeline/adapters/redis/redis-event-catalog.ts';
import { RedisAttributeCatalog } from '../pipeline/adapters/redis/redis-attribute-catalog.ts';
import { RedisKeyStore } from '../pipeline/adapters/redis/redis-key-store.ts';
import { JetStreamKeyStore } from '../pipeline/adapters/nats/jetstream-key-store.ts';
import { redisRateLimitStore } from '../pipeline/adapters/redis/redis-rate-limit-store.ts';
import { RedisStateStore } from '../pipeline/adapters/redis/redis-state-store.ts';
import type { Namespace } from '../pipeline/namespace.ts';
import { replayRunner } from '../pipeline/replay/replay-runner.ts';
import type { ApiDeps } from '../api/app.ts';

/**
 * The API's ports on the real services: the one place the API's adapters are chosen, for
 * `nudge api`, `nudge start` and the tests that build the API on the real services.
 */
export function apiPorts(services: {
  readonly nc: NatsConnection;
  /** The JetStream client the catalog and replays use (a test may give one with a short timeout). */
  readonly js?: JetStreamClient;
  /** A JetStream publish's time to answer, ms (the ingest path's own publisher). */
  readonly publishTimeoutMs?: number;
  readonly jsm: JetStreamManager;
  readonly redis: RedisClient;
  readonly clickhouse: ClickHouseClient;
  /** Where the replay threads connect to ClickHouse (the client's own address): without it, replays run on the API's thread. */
  readonly clickhouseUrl?: string;
  readonly ns: Namespace;
  readonly partitions: number;
  readonly now: () => number;
  readonly report?: (line: string) => void;
}): Pick<
  ApiDeps,
  | 'log'
  | 'catalog'
  | 'audit'
  | 'states'
  | 'eventKeys'
  | 'attributeKeys'
  | 'keys'
  | 'clientSecrets'
  | 'vapid'
  | 'inbox'
  | 'feed'
  | 'outcomes'
  | 'deliveries'
  | 'replays'
  | 'unsubscribeSecrets'
> & {
  readonly rateLimitStore: ReturnType<typeof redisRateLimitStore>;
} {
  const { nc, redis, clickhouse, ns } = services;
  const js = services.js ?? nc.jetstream();
  const catalog = new JetStreamMessageCatalog(js, services.jsm, ns);
  const store = new ClickHouseReplayStore(clickhouse, ns.database, services.now);
  const keys = new JetStreamKeyStore(js, ns, new RedisKeyStore(redis, ns));
  const publisher = new JetStreamPublisher(nc, services.publishTimeoutMs);
  return {
    log: new LogAppender(publisher, ns, services.partitions),
    catalog,
    audit: new ClickHouseAuditReader(clickhouse, ns.database),
    states: new RedisStateStore(redis, ns),
    eventKeys: new RedisEventCatalog(redis, ns),
    attributeKeys: new RedisAttributeCatalog(redis, ns),
    keys,
    clientSecrets: keys,
    vapid: keys,
    unsubscribeSecrets: keys,
    inbox: new RedisInbox(redis, ns),
    feed: new NatsInAppFeed(nc, ns),
    outcomes: new ClickHouseInAppOutcomes(clickhouse, ns.database),
    deliveries: new JetStreamDeliveryPublisher(publisher, services.jsm, ns),
    replays: replayRunner({
      recorded: new ClickHouseRecordedLog(clickhouse, ns.database),
      store,
      catalog: () => catalog.history(),
      ready: async () => {
        await migrateAudit(clickhouse, ns.database);
        await store.migrate();
      },
      now: services.now,
      ...(services.report === undefined ? {} : { report: services.report }),
      ...(services.clickhouseUrl === undefined
        ? {}
        : { runner: new ReplayThreads({ url: services.clickhouseUrl, database: ns.database }) }),
    }),
    rateLimitStore: redisRateLimitStore(redis, `${ns.name}:ratelimit:`),
  };
}
