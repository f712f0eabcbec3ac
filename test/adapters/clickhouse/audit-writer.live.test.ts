import { randomUUID } from 'node:crypto';
import { createClient } from '@clickhouse/client';
import { Redis } from 'ioredis';
import { connect } from 'nats';
import type { JetStreamManager, NatsConnection } from 'nats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrateAudit } from '../../../pipeline/adapters/clickhouse/audit-schema.ts';
import { AuditWriter } from '../../../pipeline/adapters/clickhouse/audit-writer.ts';
import { readJsonDefinitions } from '../../../pipeline/adapters/file/json-definitions-file.ts';
import { NdjsonLogFile } from '../../../pipeline/adapters/file/ndjson-log-file.ts';
import {
  ensureDecisionsStream,
  JetStreamDecisionSink,
} from '../../../pipeline/adapters/nats/jetstream-decision-sink.ts';
import { JetStreamLogSource } from '../../../pipeline/adapters/nats/jetstream-log-source.ts';
import { ensureLogStream, LogPublisher } from '../../../pipeline/adapters/nats/log-stream.ts';
import { RedisStateStore } from '../../../pipeline/adapters/redis/redis-state-store.ts';
import { loadConfig } from '../../../pipeline/config/load-config.ts';
import { compileCaps } from '../../../pipeline/core/caps.ts';
import type { LogEntry } from '../../../pipeline/core/log-entry.ts';
import { GlobalCapListSchema, MessageListSchema } from '../../../pipeline/core/message-schema.ts';
import { buildRuleIndex } from '../../../pipeline/core/rule-index.ts';
import { Namespace } from '../../../pipeline/namespace.ts';
import { Replayer } from '../../../pipeline/replay/replayer.ts';
import { PartitionWorker } from '../../../pipeline/runtime/partition-worker.ts';

const fixture = new URL('../../fixtures/replay/onboarding/', import.meta.url).pathname;
const PARTITIONS = 2;
const config = loadConfig(process.env);
const ns = new Namespace(`t_${randomUUID().replaceAll('-', '').slice(0, 20)}`);
const clickhouse = createClient({ url: config.clickhouseUrl });
const redis = new Redis(config.redisUrl);
let nc: NatsConnection;
let jsm: JetStreamManager;

beforeAll(async () => {
  nc = await connect({ servers: config.natsUrl });
  jsm = await nc.jetstreamManager();
  await ensureLogStream(jsm, ns, PARTITIONS);
  await ensureDecisionsStream(jsm, ns);
  await migrateAudit(clickhouse, ns.database);
});

afterAll(async () => {
  await jsm.streams.delete(ns.logStream).catch(() => false);
  await jsm.streams.delete(ns.decisionsStream).catch(() => false);
  await nc.drain();
  const keys = await redis.keys(`${ns.name}:*`);
  if (keys.length > 0) await redis.del(...keys);
  await redis.quit();
  await clickhouse.command({ query: `DROP DATABASE IF EXISTS \`${ns.database}\`` });
  await clickhouse.close();
});

async function rows<T>(query: string): Promise<T[]> {
  return (await clickhouse.query({ query, format: 'JSONEachRow' })).json<T>();
}

describe('audit writers: log and decisions streams into ClickHouse', () => {
  it('every entry and every decision lands in ClickHouse once, equal to nudge replay', async () => {
    const entries: LogEntry[] = [];
    for await (const batch of new NdjsonLogFile(`${fixture}log.ndjson`).batches()) entries.push(...batch);
    const messages = await readJsonDefinitions(`${fixture}messages.json`, MessageListSchema);
    const caps = await readJsonDefinitions(`${fixture}caps.json`, GlobalCapListSchema);
    const rules = { index: buildRuleIndex(messages), caps: compileCaps(caps) };
    const publisher = new LogPublisher(nc.jetstream(), ns, PARTITIONS);
    await publisher.publish(entries);
    await publisher.flush();
    const source = new JetStreamLogSource(nc.jetstream(), ns);
    const store = new RedisStateStore(redis, ns);
    const sink = new JetStreamDecisionSink(nc.jetstream(), ns);
    for (let partition = 0; partition < PARTITIONS; partition++) {
      const worker = new PartitionWorker({
        partition,
        holder: 'test',
        source,
        store,
        sink,
        rules: () => rules,
        leaseMs: 30_000,
        batchSize: 100,
      });
      for (let step = 0; step < 20; step++) if ((await worker.step()).kind === 'idle') break;
    }
    const logWriter = new AuditWriter(nc.jetstream(), jsm, ns, clickhouse, 'log');
    for (let step = 0; step < 20; step++) if ((await logWriter.step()) === 0) break;
    // ClickHouse cannot take the decisions (the table is gone): nothing is acked, nothing lost.
    await clickhouse.command({ query: `DROP TABLE \`${ns.database}\`.decisions` });
    const decisionWriter = new AuditWriter(nc.jetstream(), jsm, ns, clickhouse, 'decisions', 0);
    await expect(decisionWriter.step()).rejects.toThrow();
    await migrateAudit(clickhouse, ns.database);
    let written = 0;
    for (let step = 0; step < 20; step++) {
      const count = await decisionWriter.step();
      written += count;
      if (count === 0) break;
    }
    expect(written).toBeGreaterThan(0);

    const replayer = new Replayer(rules.index, rules.caps);
    const expected = entries
      .flatMap((entry) => replayer.apply(entry))
      .map((d) => ({
        decision_id: d.decision_id,
        outcome: d.outcome,
        reason: d.reason,
        body: d.content?.body ?? null,
      }))
      .sort((a, b) => (a.decision_id < b.decision_id ? -1 : 1));
    const stored = await rows<{
      decision_id: string;
      outcome: string;
      reason: string | null;
      body: string | null;
    }>(`SELECT decision_id, outcome, reason, body FROM \`${ns.database}\`.decisions FINAL`);
    expect(stored.sort((a, b) => (a.decision_id < b.decision_id ? -1 : 1))).toEqual(expected);
    const [logged] = await rows<{ n: string }>(
      `SELECT count() AS n FROM \`${ns.database}\`.log_entries FINAL`,
    );
    expect(Number(logged?.n)).toBe(entries.length);
  });
});
