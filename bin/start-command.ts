import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { ClickHouseClient } from '@clickhouse/client';
import { createClient } from '@clickhouse/client';
import type { RedisClient } from '../pipeline/adapters/redis/connect-redis.ts';
import { connectRedis } from '../pipeline/adapters/redis/connect-redis.ts';
import type { JetStreamClient, JetStreamManager, NatsConnection } from 'nats';
import { connectNats } from '../pipeline/adapters/nats/connect-nats.ts';
import { migrateAudit } from '../pipeline/adapters/clickhouse/audit-schema.ts';
import { FactsCompactor } from '../pipeline/adapters/clickhouse/facts-compactor.ts';
import { ClickHouseAuditSink } from '../pipeline/adapters/clickhouse/clickhouse-audit-sink.ts';
import { ClickHouseRecordedLog } from '../pipeline/adapters/clickhouse/recorded-log.ts';
import { auditCaughtUp } from '../pipeline/adapters/nats/audit-progress.ts';
import { JetStreamCheckpoints } from '../pipeline/adapters/nats/jetstream-checkpoints.ts';
import type { StreamPublisher } from '../pipeline/adapters/nats/jetstream-publisher.ts';
import { JetStreamPublisher } from '../pipeline/adapters/nats/jetstream-publisher.ts';
import { auditRebuild } from '../pipeline/replay/partition-rebuild.ts';
import {
  catalogHistory,
  catalogStream,
  ensureCatalogStream,
  latestMessage,
  readCatalog,
} from '../pipeline/adapters/nats/catalog-stream.ts';
import {
  DeliveringDecisionSink,
  ensureDeliveriesStream,
  publishDelivery,
} from '../pipeline/adapters/nats/deliveries-stream.ts';
import { ensureHeldStream, JetStreamHeldSends } from '../pipeline/adapters/nats/held-sends.ts';
import {
  ensureDecisionsStream,
  JetStreamDecisionSink,
} from '../pipeline/adapters/nats/jetstream-decision-sink.ts';
import {
  ensureDeadLettersStream,
  JetStreamDeadLetters,
} from '../pipeline/adapters/nats/jetstream-dead-letters.ts';
import { JetStreamLogSource } from '../pipeline/adapters/nats/jetstream-log-source.ts';
import { ensureLogStream } from '../pipeline/adapters/nats/log-stream.ts';
import { NatsInAppFeed } from '../pipeline/adapters/nats/nats-inapp-feed.ts';
import {
  deadLetterReader,
  decisionRowReader,
  deliveryReader,
  logEntryReader,
} from '../pipeline/adapters/nats/stream-readers.ts';
import { RedisAttributeCatalog } from '../pipeline/adapters/redis/redis-attribute-catalog.ts';
import { RedisEventCatalog } from '../pipeline/adapters/redis/redis-event-catalog.ts';
import { RedisCatalogMark } from '../pipeline/adapters/redis/redis-catalog-mark.ts';
import { CatalogRebuilder } from '../pipeline/runtime/catalog-rebuilder.ts';
import { RedisInbox } from '../pipeline/adapters/redis/redis-inbox.ts';
import { RedisMembership } from '../pipeline/adapters/redis/redis-membership.ts';
import { RedisStateStore } from '../pipeline/adapters/redis/redis-state-store.ts';
import type { Config } from '../pipeline/config/load-config.ts';
import { loadConfig, namespaceOf } from '../pipeline/config/load-config.ts';
import { compileCaps } from '../pipeline/core/caps.ts';
import { buildRuleIndex } from '../pipeline/core/rule-index.ts';
import { Namespace } from '../pipeline/namespace.ts';
import { AuditWriter } from '../pipeline/runtime/audit-writer.ts';
import { CachedStateStore } from '../pipeline/runtime/cached-state-store.ts';
import { HeldReleaser } from '../pipeline/runtime/held-releaser.ts';
import { InboxWriter } from '../pipeline/runtime/inbox-writer.ts';
import { LEASE_MS, Matcher, MEMBER_TTL_MS } from '../pipeline/runtime/matcher.ts';
import { ThreadLeases } from './lease-thread.ts';
import { runRolesOnThread } from './roles-thread.ts';
import type { Role } from './roles.ts';
import { PIPELINE, rolesOf } from './roles.ts';
import { NudgeMetrics } from '../pipeline/runtime/metrics.ts';
import type { Step } from '../pipeline/runtime/step-loops.ts';
import { runSteps } from '../pipeline/runtime/step-loops.ts';
import { runApi } from './api-command.ts';
import { runTogether, stopSignal } from './stop-signal.ts';
import type { Rules } from '../pipeline/runtime/partition-worker.ts';

/**
 * `nudge start [--roles matcher,audit,deliveries,api]`: the HTTP API and the pipeline's roles,
 * until SIGINT or SIGTERM. All of them by default, as the quick start wants; a deployment runs each
 * role in its own processes (on its own cores or hosts), as many of each as it needs.
 */
export async function startCommand(args: readonly string[] = []): Promise<void> {
  const roles = rolesOf(args);
  const config = loadConfig(process.env);
  const signal = stopSignal();
  const metrics = new NudgeMetrics();
  const pipeline = new Set([...roles].filter((role) => PIPELINE.has(role)));
  // The matcher's lines keep their prefix ("matcher: "), which scripts read for its counts.
  const prefix = pipeline.has('matcher') ? 'matcher' : [...pipeline].join('+');
  const parts: ((stop: AbortSignal) => Promise<unknown>)[] = [];
  const print = (line: string) => process.stdout.write(`${prefix}: ${line}\n`);
  // Beside the matcher, the other pipeline roles run on a thread of their own.
  const beside = new Set([...pipeline].filter((role) => role !== 'matcher'));
  if (pipeline.has('matcher') && beside.size > 0) {
    parts.push((stop) => runRoles(config, new Set(['matcher']), stop, print, metrics));
    parts.push((stop) => runRolesOnThread(beside, stop, print, metrics));
  } else if (pipeline.size > 0) parts.push((stop) => runRoles(config, pipeline, stop, print, metrics));
  if (roles.has('api'))
    parts.push((stop) => runApi(config, stop, (line) => process.stdout.write(`api: ${line}\n`), metrics));
  await runTogether(signal, parts);
}

/** The matcher (which puts the sends on their channels' streams), the audit writers, the held sends' releaser and the in-app inboxes of a namespace, until the signal aborts. */
export function runMatcher(
  config: Config,
  signal: AbortSignal,
  report: (line: string) => void,
  metrics: NudgeMetrics = new NudgeMetrics(),
): Promise<void> {
  return runRoles(config, PIPELINE, signal, report, metrics);
}

/**
 * The pipeline's roles of one process, until the signal aborts: `matcher` decides the partitions
 * assigned to it (membership, leases; the other roles' work runs beside it) and puts their sends on
 * their channels' deliveries streams, `audit` writes the log's entries, the decisions and the dead
 * letters to ClickHouse (and keeps the catalogs and the analytics days), `deliveries` releases
 * held sends when due and fills the in-app inboxes. Without `matcher`, the process is no member:
 * no partition is ever assigned to it. Each role reads through durable consumers, so processes of
 * one role share its work.
 */
export async function runRoles(
  config: Config,
  roles: ReadonlySet<Role>,
  signal: AbortSignal,
  report: (line: string) => void,
  metrics: NudgeMetrics = new NudgeMetrics(),
  backlogOf: (writer: string, pending: number) => void = (writer, pending) => {
    metrics.writerBacklog.set({ writer }, pending);
  },
): Promise<void> {
  const ns = namespaceOf(config);
  const holder = `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  const nc = await connectNats(config.natsUrl, `nudge ${holder}`);
  const redis = connectRedis(config.redisUrl);
  const clickhouse = createClient({ url: config.clickhouseUrl });
  try {
    const [js, jsm] = [nc.jetstream(), await nc.jetstreamManager()];
    await ensureLogStream(jsm, ns, config.partitions);
    await ensureDecisionsStream(jsm, ns);
    await ensureDeliveriesStream(jsm, ns);
    await ensureHeldStream(jsm, ns);
    await ensureCatalogStream(jsm, ns);
    await ensureDeadLettersStream(jsm, ns);
    await migrateAudit(clickhouse, ns.database);
    const audit = new ClickHouseAuditSink(clickhouse, ns.database);
    const backlog = (writer: string) => ({
      onBacklog: (pending: number) => {
        backlogOf(writer, pending);
      },
    });
    // JetStream publishes without nats.js's request machinery (a subscription, a timer and an error each).
    const publisher = new JetStreamPublisher(nc);
    const services: RoleServices = {
      nc,
      js,
      jsm,
      publisher,
      ns,
      redis,
      clickhouse,
      audit,
      backlog,
      report,
      holder,
    };
    const steps = [
      ...(roles.has('audit') ? auditSteps(services) : []),
      ...(roles.has('deliveries') ? deliverySteps(services) : []),
    ];
    if (!roles.has('matcher')) {
      report(`${holder} started on ${ns.name}: ${[...roles].join(', ')}; Ctrl-C stops`);
      await runSteps(steps, signal, report);
      report('stopping');
      return;
    }
    const source = new JetStreamLogSource(js, ns, undefined, (partition, pending) => {
      metrics.partitionLag.set({ partition: String(partition) }, pending);
    });
    const matcher = new Matcher({
      holder,
      partitions: config.partitions,
      membership: new RedisMembership(redis, ns),
      leases: new ThreadLeases(
        {
          redisUrl: config.redisUrl,
          namespace: ns.name,
          holder,
          partitions: config.partitions,
          leaseMs: LEASE_MS,
          memberTtlMs: MEMBER_TTL_MS,
          aliveMs: MATCHER_SILENT_MS,
        },
        report,
      ),
      store:
        config.stateCacheUsers > 0
          ? new CachedStateStore(new RedisStateStore(redis, ns), config.stateCacheUsers)
          : new RedisStateStore(redis, ns),
      source,
      // The sends leave with their decisions, before the batch commits.
      sink: new DeliveringDecisionSink(new JetStreamDecisionSink(publisher, ns), publisher, ns),
      deadLetters: new JetStreamDeadLetters(js, ns),
      checkpoints: new JetStreamCheckpoints(js, ns, publisher),
      rebuild: auditRebuild({
        recorded: new ClickHouseRecordedLog(clickhouse, ns.database),
        catalog: () => catalogHistory(js, ns),
        caughtUp: auditCaughtUp(jsm, ns, 'audit_writer', report),
      }),
      refreshRules: catalogWatcher(jsm, ns, report),
      background: steps,
      report,
      metrics,
    });
    report(
      `${holder} started on ${ns.name}: ${config.partitions} partitions` +
        (roles.size < PIPELINE.size ? ` (roles: ${[...roles].join(', ')})` : '') +
        '; Ctrl-C stops',
    );
    await matcher.run(signal);
    report('stopping');
    await source.close();
  } finally {
    await nc.drain();
    await redis.quit();
    await clickhouse.close();
  }
}

type RoleServices = {
  readonly nc: NatsConnection;
  readonly js: JetStreamClient;
  readonly jsm: JetStreamManager;
  readonly publisher: StreamPublisher;
  readonly ns: Namespace;
  readonly redis: RedisClient;
  readonly clickhouse: ClickHouseClient;
  readonly audit: ClickHouseAuditSink;
  readonly backlog: (writer: string) => { onBacklog: (pending: number) => void };
  readonly report: (line: string) => void;
  /** This process, as its leases and claims name it. */
  readonly holder: string;
};

/** The audit role: the log's entries (and the catalogs' keys), the decisions and the dead letters to ClickHouse, and the analytics days merged. */
function auditSteps({
  js,
  jsm,
  ns,
  redis,
  clickhouse,
  audit,
  backlog,
  report,
  holder,
}: RoleServices): Step[] {
  const events = new RedisEventCatalog(redis, ns);
  const attributes = new RedisAttributeCatalog(redis, ns);
  const recorded = new ClickHouseRecordedLog(clickhouse, ns.database);
  return [
    stepper(
      'entries to ClickHouse',
      new AuditWriter(
        logEntryReader(js, jsm, ns, 'audit_writer', {
          ...AUDIT_BATCHES,
          ...backlog('entries to ClickHouse'),
        }),
        // The catalogs' keys are recorded with the audit: all see every entry once or more.
        async (items) => {
          await audit.insertEntries(items);
          await events.record(items.map((item) => item.entry));
          await attributes.record(items.map((item) => item.entry));
        },
      ),
    ),
    stepper(
      'decisions to ClickHouse',
      new AuditWriter(
        decisionRowReader(js, jsm, ns, 'audit_writer', {
          ...AUDIT_BATCHES,
          ...backlog('decisions to ClickHouse'),
        }),
        (rows) => audit.insertDecisionRows(rows),
      ),
    ),
    stepper(
      'dead letters to ClickHouse',
      new AuditWriter(deadLetterReader(js, jsm, ns, 'audit_writer', AUDIT_BATCHES), (letters) =>
        audit.insertDeadLetters(letters),
      ),
    ),
    stepper('days of decision_facts merged', new FactsCompactor(clickhouse, ns.database)),
    stepper(
      'catalog entries rebuilt',
      new CatalogRebuilder({
        mark: new RedisCatalogMark(redis, ns),
        recorded: (until) => recorded.entriesBefore(until),
        record: async (entries) => {
          await events.record(entries);
          await attributes.record(entries);
        },
        holder,
        now: Date.now,
        report: (line) => {
          report(`catalogs: ${line}`);
        },
      }),
    ),
  ];
}

/**
 * The deliveries role: held sends released when due, the in-app inboxes filled. (The sends reach
 * their channels' streams from the matcher, with its decisions.)
 */
function deliverySteps({ nc, js, jsm, publisher, ns, redis, audit, backlog, report }: RoleServices): Step[] {
  return [
    stepper(
      'held sends released or cancelled',
      new HeldReleaser({
        held: new JetStreamHeldSends(js, jsm, ns),
        release: async (delivery) => {
          await publishDelivery(publisher, ns, delivery);
        },
        latest: (id) => latestMessage(jsm, ns, id),
        record: (outcomes) => audit.insertOutcomes(outcomes),
        now: Date.now,
        report,
      }),
    ),
    stepper(
      'in-app inbox',
      new InboxWriter({
        reader: deliveryReader(js, jsm, ns, 'in-app', 'inbox_writer', backlog('in-app inbox')),
        inbox: new RedisInbox(redis, ns),
        feed: new NatsInAppFeed(nc, ns),
      }),
    ),
  ];
}

/**
 * A matcher thread silent this long lets its leases go (the lease thread stops renewing): five
 * leases, far longer than any batch, so only a thread that is stuck loses its partitions this way.
 */
const MATCHER_SILENT_MS = 15_000;

/** ClickHouse wants few, large inserts: a batch waits up to a second to fill (DESIGN §5). */
const AUDIT_BATCHES = { lingerMs: 1_000 };

const stepper = (name: string, work: { step(): Promise<number> }): Step => ({
  name,
  step: () => work.step(),
});

/** The rules from the catalog, rebuilt when the catalog stream has a new version (checked by its last sequence). */
function catalogWatcher(
  jsm: JetStreamManager,
  ns: Namespace,
  report: (line: string) => void,
): () => Promise<Rules | undefined> {
  let seen = -1;
  return async () => {
    const last = (await jsm.streams.info(catalogStream(ns))).state.last_seq;
    if (last === seen) return undefined;
    seen = last;
    const catalog = await readCatalog(jsm, ns);
    const live = catalog.messages.filter((m) => m.state === 'live');
    report(
      `rules: ${live.length} live of ${catalog.messages.length} messages (${live.map((m) => `${m.id} v${m.version}`).join(', ') || 'none'}), ${catalog.caps.length} caps`,
    );
    return {
      index: buildRuleIndex(catalog.messages),
      caps: compileCaps(catalog.caps),
      capsVersion: catalog.capsVersion,
    };
  };
}
