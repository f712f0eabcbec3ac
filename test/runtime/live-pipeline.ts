import { JetStreamPublisher } from '../../pipeline/adapters/nats/jetstream-publisher.ts';
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { connect } from 'nats';
import type { JetStreamManager, NatsConnection } from 'nats';
import { readJsonDefinitions } from '../../pipeline/adapters/file/json-definitions-file.ts';
import { NdjsonLogFile } from '../../pipeline/adapters/file/ndjson-log-file.ts';
import {
  ensureDecisionsStream,
  JetStreamDecisionSink,
} from '../../pipeline/adapters/nats/jetstream-decision-sink.ts';
import {
  ensureDeadLettersStream,
  JetStreamDeadLetters,
} from '../../pipeline/adapters/nats/jetstream-dead-letters.ts';
import { JetStreamCheckpoints } from '../../pipeline/adapters/nats/jetstream-checkpoints.ts';
import { JetStreamLogSource } from '../../pipeline/adapters/nats/jetstream-log-source.ts';
import { ensureLogStream, LogPublisher } from '../../pipeline/adapters/nats/log-stream.ts';
import { RedisStateStore } from '../../pipeline/adapters/redis/redis-state-store.ts';
import { loadConfig } from '../../pipeline/config/load-config.ts';
import { compileCaps } from '../../pipeline/core/caps.ts';
import type { LogEntry } from '../../pipeline/core/log-entry.ts';
import { GlobalCapListSchema, MessageListSchema } from '../../pipeline/core/message-schema.ts';
import { buildRuleIndex } from '../../pipeline/core/rule-index.ts';
import { Namespace } from '../../pipeline/namespace.ts';
import type { Rules } from '../../pipeline/runtime/partition-worker.ts';
import { PartitionWorker } from '../../pipeline/runtime/partition-worker.ts';

export const config = loadConfig(process.env);

/** The onboarding golden case: its entries and its rules. */
export async function onboarding(): Promise<{ entries: LogEntry[]; rules: Rules }> {
  const folder = new URL('../fixtures/replay/onboarding/', import.meta.url).pathname;
  const entries: LogEntry[] = [];
  for await (const batch of new NdjsonLogFile(`${folder}log.ndjson`).batches()) entries.push(...batch);
  const messages = await readJsonDefinitions(`${folder}messages.json`, MessageListSchema);
  const caps = await readJsonDefinitions(`${folder}caps.json`, GlobalCapListSchema);
  return { entries, rules: { index: buildRuleIndex(messages), caps: compileCaps(caps) } };
}

/** A fresh namespace on the real NATS and Redis, with its log and decisions streams; `close` removes it all. */
export async function livePipeline(partitions: number) {
  const ns = new Namespace(`t_${randomUUID().replaceAll('-', '').slice(0, 20)}`);
  const nc: NatsConnection = await connect({ servers: config.natsUrl });
  const jsm: JetStreamManager = await nc.jetstreamManager();
  const redis = new Redis(config.redisUrl);
  await ensureLogStream(jsm, ns, partitions);
  await ensureDecisionsStream(jsm, ns);
  await ensureDeadLettersStream(jsm, ns);
  return {
    ns,
    nc,
    jsm,
    redis,
    async publish(entries: readonly LogEntry[], oneByOne = false): Promise<void> {
      const publisher = new LogPublisher(nc.jetstream(), ns, partitions);
      if (oneByOne) for (const entry of entries) await publisher.publish([entry]);
      else await publisher.publish(entries);
      await publisher.flush();
    },
    /** Runs one worker per partition until each finds nothing more to read. */
    async decideAll(rules: Rules, batchSize: number): Promise<void> {
      const source = new JetStreamLogSource(nc.jetstream(), ns);
      const store = new RedisStateStore(redis, ns);
      const publisher = new JetStreamPublisher(nc);
      const sink = new JetStreamDecisionSink(publisher, ns);
      const deadLetters = new JetStreamDeadLetters(nc.jetstream(), ns);
      const checkpoints = new JetStreamCheckpoints(nc.jetstream(), ns, publisher);
      for (let partition = 0; partition < partitions; partition++) {
        const worker = new PartitionWorker({
          partition,
          holder: 'test',
          source,
          store,
          sink,
          deadLetters,
          checkpoints,
          rebuild: () => Promise.reject(new Error('no audit here: Redis is not wiped in these tests')),
          rules: () => rules,
          leaseMs: 30_000,
          batchSize,
        });
        for (let step = 0; step < 100; step++) if ((await worker.step()).kind === 'idle') break;
      }
    },
    async close(): Promise<void> {
      await jsm.streams.delete(ns.logStream).catch(() => false);
      await jsm.streams.delete(ns.decisionsStream).catch(() => false);
      await jsm.streams.delete(ns.deadLettersStream).catch(() => false);
      await jsm.streams.delete(ns.checkpointsStream).catch(() => false);
      await nc.drain();
      const keys = await redis.keys(`${ns.name}:*`);
      if (keys.length > 0) await redis.del(...keys);
      await redis.quit();
    },
  };
}
