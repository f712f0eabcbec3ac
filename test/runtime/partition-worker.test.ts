import { describe, expect, it } from 'vitest';
import { NdjsonLogFile } from '../../pipeline/adapters/file/ndjson-log-file.ts';
import { readJsonDefinitions } from '../../pipeline/adapters/file/json-definitions-file.ts';
import { MemoryLog } from '../../pipeline/adapters/memory/memory-log.ts';
import { MemoryStateStore } from '../../pipeline/adapters/memory/memory-state-store.ts';
import { compileCaps } from '../../pipeline/core/caps.ts';
import type { LogEntry } from '../../pipeline/core/log-entry.ts';
import { GlobalCapListSchema, MessageListSchema } from '../../pipeline/core/message-schema.ts';
import { partitionOf } from '../../pipeline/core/partition.ts';
import { buildRuleIndex } from '../../pipeline/core/rule-index.ts';
import type { DecisionSink, PositionedDecision } from '../../pipeline/ports/decision-sink.ts';
import { replayLine } from '../../pipeline/replay/replay-line.ts';
import { Replayer } from '../../pipeline/replay/replayer.ts';
import type { Rules } from '../../pipeline/runtime/partition-worker.ts';
import { PartitionWorker } from '../../pipeline/runtime/partition-worker.ts';
import { linesByUser } from './lines-by-user.ts';

const fixture = new URL('../fixtures/replay/onboarding/', import.meta.url).pathname;
const PARTITIONS = 2;

async function setup() {
  const entries: LogEntry[] = [];
  for await (const batch of new NdjsonLogFile(`${fixture}log.ndjson`).batches()) entries.push(...batch);
  const messages = await readJsonDefinitions(`${fixture}messages.json`, MessageListSchema);
  const caps = await readJsonDefinitions(`${fixture}caps.json`, GlobalCapListSchema);
  const rules: Rules = { index: buildRuleIndex(messages), caps: compileCaps(caps) };
  const replayer = new Replayer(rules.index, rules.caps);
  const expected = entries.flatMap((entry) => replayer.apply(entry).map(replayLine));
  return { entries, rules, expected };
}

/** A sink that keeps what it was given, dropping repeated decision ids as the real one must. */
class RecordingSink implements DecisionSink {
  readonly byId = new Map<string, PositionedDecision>();
  publishes = 0;
  failOn = new Set<number>();

  publish(decisions: readonly PositionedDecision[]): Promise<void> {
    this.publishes++;
    if (this.failOn.has(this.publishes))
      return Promise.reject(new Error('crash before the decisions were durable'));
    for (const d of decisions)
      if (!this.byId.has(d.decision.decision_id)) this.byId.set(d.decision.decision_id, d);
    return Promise.resolve();
  }
}

/** Entries into the log the way ingestion packs them: per partition, a few per message. */
function fill(log: MemoryLog, entries: readonly LogEntry[], perMessage: number) {
  for (let p = 0; p < PARTITIONS; p++) {
    const mine = entries.filter((e) => partitionOf(e.user_id, PARTITIONS) === p);
    for (let i = 0; i < mine.length; i += perMessage) log.append(p, mine.slice(i, i + perMessage));
  }
}

async function drain(worker: PartitionWorker): Promise<void> {
  for (let i = 0; i < 1_000; i++) {
    const result = await worker.step().catch(() => ({ kind: 'crashed' as const }));
    if (result.kind === 'idle') return;
  }
  throw new Error('the worker never became idle');
}

describe('PartitionWorker over the memory adapters', () => {
  it('decides exactly what nudge replay decides, per user in log order', async () => {
    const { entries, rules, expected } = await setup();
    const log = new MemoryLog();
    fill(log, entries, 2);
    const store = new MemoryStateStore(() => 0);
    const sink = new RecordingSink();
    for (let partition = 0; partition < PARTITIONS; partition++) {
      await drain(
        new PartitionWorker({
          partition,
          holder: 'a',
          source: log,
          store,
          sink,
          rules: () => rules,
          leaseMs: 10_000,
          batchSize: 3,
        }),
      );
      expect((await store.load(partition, [])).applied).toBe(log.lastSeq(partition));
    }
    const got = [...sink.byId.values()].sort((x, y) => x.seq - y.seq).map((d) => replayLine(d.decision));
    expect(linesByUser(got)).toEqual(linesByUser(expected));
  });

  it('a crash before the decisions are durable replays the batch: nothing lost, nothing twice', async () => {
    const { entries, rules, expected } = await setup();
    const log = new MemoryLog();
    fill(log, entries, 1);
    const store = new MemoryStateStore(() => 0);
    const sink = new RecordingSink();
    sink.failOn = new Set([1, 3, 4]);
    for (let partition = 0; partition < PARTITIONS; partition++) {
      await drain(
        new PartitionWorker({
          partition,
          holder: 'a',
          source: log,
          store,
          sink,
          rules: () => rules,
          leaseMs: 10_000,
          batchSize: 2,
        }),
      );
    }
    const got = [...sink.byId.values()].sort((x, y) => x.seq - y.seq).map((d) => replayLine(d.decision));
    expect(got).toHaveLength(expected.length);
    expect(linesByUser(got)).toEqual(linesByUser(expected));
  });

  it('a worker without the lease decides nothing; one paused past its lease commits nothing', async () => {
    const { entries, rules } = await setup();
    const log = new MemoryLog();
    fill(log, entries, 1);
    let now = 0;
    const store = new MemoryStateStore(() => now);
    const shared = { source: log, store, rules: () => rules, leaseMs: 100, batchSize: 1, partition: 0 };
    const sinkB = new RecordingSink();
    const b = new PartitionWorker({ ...shared, holder: 'b', sink: sinkB });
    // a pauses while publishing (a long GC, a SIGSTOP): its lease lapses and b takes over.
    const pausingSink: DecisionSink = {
      publish: async () => {
        now += 1_000;
        expect((await b.step()).kind).toBe('decided');
      },
    };
    const a = new PartitionWorker({ ...shared, holder: 'a', sink: pausingSink });
    expect((await a.step()).kind).toBe('fenced');
    expect((await a.step()).kind).toBe('not-owner');
    // b committed the first message once; a's write was refused and it acked nothing.
    const applied = (await store.load(0, [])).applied;
    expect(applied).toBeGreaterThan(0);
    expect([...sinkB.byId.values()].every((d) => d.seq === applied)).toBe(true);
  });
});
