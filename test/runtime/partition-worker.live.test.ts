import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { connect } from 'nats';
import type { JetStreamManager, NatsConnection } from 'nats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NdjsonLogFile } from '../../pipeline/adapters/file/ndjson-log-file.ts';
import { readJsonDefinitions } from '../../pipeline/adapters/file/json-definitions-file.ts';
import {
  ensureDecisionsStream,
  JetStreamDecisionSink,
} from '../../pipeline/adapters/nats/jetstream-decision-sink.ts';
import { JetStreamLogSource } from '../../pipeline/adapters/nats/jetstream-log-source.ts';
import { ensureLogStream, LogPublisher } from '../../pipeline/adapters/nats/log-stream.ts';
import { RedisStateStore } from '../../pipeline/adapters/redis/redis-state-store.ts';
import { loadConfig } from '../../pipeline/config/load-config.ts';
import { compileCaps } from '../../pipeline/core/caps.ts';
import type { LogEntry } from '../../pipeline/core/log-entry.ts';
import { GlobalCapListSchema, MessageListSchema } from '../../pipeline/core/message-schema.ts';
import { buildRuleIndex } from '../../pipeline/core/rule-index.ts';
import { Namespace } from '../../pipeline/namespace.ts';
import type { PositionedDecision } from '../../pipeline/ports/decision-sink.ts';
import { replayLine } from '../../pipeline/replay/replay-line.ts';
import { Replayer } from '../../pipeline/replay/replayer.ts';
import { PartitionWorker } from '../../pipeline/runtime/partition-worker.ts';
import { linesByUser } from './lines-by-user.ts';

const fixture = new URL('../fixtures/replay/onboarding/', import.meta.url).pathname;
const PARTITIONS = 2;
const config = loadConfig(process.env);
const ns = new Namespace(`t_${randomUUID().replaceAll('-', '').slice(0, 20)}`);
let nc: NatsConnection;
let jsm: JetStreamManager;
const redis = new Redis(config.redisUrl);

beforeAll(async () => {
  nc = await connect({ servers: config.natsUrl });
  jsm = await nc.jetstreamManager();
  await ensureLogStream(jsm, ns, PARTITIONS);
  await ensureDecisionsStream(jsm, ns);
});

afterAll(async () => {
  await jsm.streams.delete(ns.logStream).catch(() => false);
  await jsm.streams.delete(ns.decisionsStream).catch(() => false);
  await nc.drain();
  const keys = await redis.keys(`${ns.name}:*`);
  if (keys.length > 0) await redis.del(...keys);
  await redis.quit();
});

async function decisionsInStream(): Promise<PositionedDecision[]> {
  const info = await jsm.streams.info(ns.decisionsStream);
  const found: PositionedDecision[] = [];
  for (let seq = info.state.first_seq; info.state.messages > 0 && seq <= info.state.last_seq; seq++) {
    const message = await jsm.streams.getMessage(ns.decisionsStream, { seq });
    for (const line of new TextDecoder().decode(message.data).split('\n'))
      found.push(JSON.parse(line) as PositionedDecision);
  }
  return found;
}

describe('PartitionWorker on NATS JetStream and Redis', () => {
  it('decides an ingested log exactly as nudge replay does, per user in log order', async () => {
    const entries: LogEntry[] = [];
    for await (const batch of new NdjsonLogFile(`${fixture}log.ndjson`).batches()) entries.push(...batch);
    const messages = await readJsonDefinitions(`${fixture}messages.json`, MessageListSchema);
    const caps = await readJsonDefinitions(`${fixture}caps.json`, GlobalCapListSchema);
    const rules = { index: buildRuleIndex(messages), caps: compileCaps(caps) };

    // Published one entry per message, so a batch is several log messages.
    const publisher = new LogPublisher(nc.jetstream(), ns, PARTITIONS);
    for (const entry of entries) await publisher.publish([entry]);
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
        batchSize: 4,
      });
      for (let step = 0; step < 100; step++) if ((await worker.step()).kind === 'idle') break;
    }

    const replayer = new Replayer(rules.index, rules.caps);
    const expected = entries.flatMap((entry) => replayer.apply(entry).map(replayLine));
    const byId = new Map((await decisionsInStream()).map((d) => [d.decision.decision_id, d]));
    const got = [...byId.values()].sort((a, b) => a.seq - b.seq).map((d) => replayLine(d.decision));
    expect(got).toHaveLength(expected.length);
    expect(linesByUser(got)).toEqual(linesByUser(expected));
  });
});
