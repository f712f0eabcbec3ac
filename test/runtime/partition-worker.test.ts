import { describe, expect, it } from 'vitest';
import { MemoryCheckpoints } from '../../pipeline/adapters/memory/memory-checkpoints.ts';
import { MemoryDeadLetters } from '../../pipeline/adapters/memory/memory-dead-letters.ts';
import { MemoryLog } from '../../pipeline/adapters/memory/memory-log.ts';
import { MemoryStateStore } from '../../pipeline/adapters/memory/memory-state-store.ts';
import { compileCaps } from '../../pipeline/core/caps.ts';
import { decide } from '../../pipeline/core/decide.ts';
import { decideGuarded } from '../../pipeline/core/guarded-decide.ts';
import type { LogEntry } from '../../pipeline/core/log-entry.ts';
import { buildRuleIndex } from '../../pipeline/core/rule-index.ts';
import type { DecisionSink, PositionedDecision } from '../../pipeline/ports/decision-sink.ts';
import type { HeldLease } from '../../pipeline/ports/lease-keeper.ts';
import { leaseClock } from '../../pipeline/ports/lease-keeper.ts';
import type { StateStore } from '../../pipeline/ports/state-store.ts';
import { replayLine } from '../../pipeline/replay/replay-line.ts';
import { Replayer } from '../../pipeline/replay/replayer.ts';
import { PartitionWorker } from '../../pipeline/runtime/partition-worker.ts';
import { linesByUser } from './lines-by-user.ts';
import { fill, setup } from './onboarding-fixture.ts';

const PARTITIONS = 2;

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

/** Dead letters kept in memory, checkpoints in memory, and no audit to rebuild from: for workers whose store never loses anything. */
const noLoss = () => ({
  deadLetters: new MemoryDeadLetters(),
  checkpoints: new MemoryCheckpoints(),
  rebuild: () => Promise.reject(new Error('this store never loses its states')),
});

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
    fill(log, entries, 2, PARTITIONS);
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
          ...noLoss(),
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
    fill(log, entries, 1, PARTITIONS);
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
          ...noLoss(),
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
    fill(log, entries, 1, PARTITIONS);
    let now = 0;
    const store = new MemoryStateStore(() => now);
    const shared = {
      source: log,
      store,
      ...noLoss(),
      rules: () => rules,
      leaseMs: 100,
      batchSize: 1,
      partition: 0,
    };
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

describe('PartitionWorker and the lease keeper', () => {
  it("asks the store for the lease only when the keeper has not renewed this tenure's epoch for half a lease", async () => {
    const { entries, rules } = await setup();
    const log = new MemoryLog();
    fill(log, entries, 1, 1);
    const store = new MemoryStateStore(() => 0);
    let asked = 0;
    const counting: StateStore = {
      acquire: (...args) => {
        asked++;
        return store.acquire(...args);
      },
      load: (...args) => store.load(...args),
      commit: (...args) => store.commit(...args),
      restore: (...args) => store.restore(...args),
    };
    let held: HeldLease | undefined;
    const leaseMs = 10_000;
    const worker = new PartitionWorker({
      partition: 0,
      holder: 'a',
      source: log,
      store: counting,
      sink: new RecordingSink(),
      ...noLoss(),
      rules: () => rules,
      leaseMs,
      lease: () => held,
      batchSize: 1,
    });
    // No renewal known: the store is asked, and its epoch starts the tenure.
    expect((await worker.step()).kind).toBe('decided');
    expect(asked).toBe(1);
    const epoch = await store.acquire(0, 'a', leaseMs);
    if (epoch === undefined) throw new Error('a holds the lease');
    // Renewed just now under the tenure's epoch: no round trip.
    held = { epoch, until: leaseClock() + leaseMs };
    for (let i = 0; i < 3; i++) expect((await worker.step()).kind).toBe('decided');
    expect(asked).toBe(1);
    // Renewed too long ago: it may lapse before the batch is published, so the store is asked.
    held = { epoch, until: leaseClock() + leaseMs / 4 };
    expect((await worker.step()).kind).toBe('decided');
    expect(asked).toBe(2);
    // Renewed under another epoch (the keeper lost the lease and took it again): a new tenure,
    // which the store must start.
    held = { epoch: epoch + 1, until: leaseClock() + leaseMs };
    expect((await worker.step()).kind).toBe('decided');
    expect(asked).toBe(3);
  });
});

describe('PartitionWorker and what it cannot decide', () => {
  it('dead-letters malformed lines and entries the core throws on before it commits, and decides the rest', async () => {
    const { entries, rules } = await setup();
    const log = new MemoryLog();
    const poisoned = entries[3];
    if (poisoned === undefined) throw new Error('the fixture is too short');
    log.append(0, entries.slice(0, 6));
    // A message of lines that are no entries, as a producer publishing straight to the log can send.
    const seq = log.append(0, [], [{ index: 0, line: '{"type":', problem: 'line 1: invalid JSON' }]);
    log.append(0, entries.slice(6, 8));
    const store = new MemoryStateStore(() => 0);
    const sink = new RecordingSink();
    const deadLetters = new MemoryDeadLetters();
    const throwing: typeof decide = (state, entry, index, caps) => {
      if (entry === poisoned) throw new RangeError('a bug this entry triggers');
      return decide(state, entry, index, caps);
    };
    const worker = new PartitionWorker({
      partition: 0,
      holder: 'a',
      source: log,
      store,
      sink,
      ...noLoss(),
      deadLetters,
      rules: () => rules,
      leaseMs: 10_000,
      batchSize: 10,
      decide: throwing,
    });
    await drain(worker);
    expect((await store.load(0, [])).applied).toBe(log.lastSeq(0));
    expect([...deadLetters.byPlace.values()]).toEqual([
      {
        partition: 0,
        seq: seq - 1,
        kind: 'failed',
        index: 3,
        at: poisoned.received_at,
        problem: 'RangeError: a bug this entry triggers',
        line: JSON.stringify(poisoned),
      },
      {
        partition: 0,
        seq,
        kind: 'malformed',
        index: 0,
        at: 0,
        problem: 'line 1: invalid JSON',
        line: '{"type":',
      },
    ]);
    // The rest is decided as a replay that skips the poisoned entry decides it.
    const replayer = new Replayer(rules.index, rules.caps);
    const expected = [...entries.slice(0, 3), ...entries.slice(4, 8)].flatMap((e) =>
      replayer.apply(e).map(replayLine),
    );
    const got = [...sink.byId.values()].map((d) => replayLine(d.decision));
    expect(linesByUser(got)).toEqual(linesByUser(expected));
  });

  it('decideGuarded turns a throw into a value naming it, and passes a result through', () => {
    const entry: LogEntry = {
      type: 'track',
      id: 'e',
      user_id: 'u',
      name: 'x',
      received_at: 1,
      metadata: {},
      context: {},
    };
    const [index, caps] = [buildRuleIndex([]), compileCaps([])];
    expect(
      decideGuarded(undefined, entry, index, caps, () => {
        throw new TypeError('boom');
      }),
    ).toEqual({ failure: 'TypeError: boom' });
    expect(decideGuarded(undefined, entry, index, caps)).toEqual(decide(undefined, entry, index, caps));
  });
});

describe('PartitionWorker and a store that loses its states', () => {
  it('rebuilds them as they were at the checkpoint, then decides the rest exactly as nudge replay does', async () => {
    const { entries, rules, expected } = await setup();
    const log = new MemoryLog();
    fill(log, entries, 1, PARTITIONS);
    const store = new MemoryStateStore(() => 0);
    const sink = new RecordingSink();
    const checkpoints = new MemoryCheckpoints();
    const rebuilt: number[] = [];
    // The audit's view of the log through a checkpoint: every entry through it, replayed.
    const rebuild = async (partition: number, upTo: number) => {
      rebuilt.push(upTo);
      const replayer = new Replayer(rules.index, rules.caps);
      const users = new Set<string>();
      for (const message of await log.read(partition, 0, Infinity))
        if (message.seq <= upTo)
          for (const entry of message.entries) {
            replayer.apply(entry);
            users.add(entry.user_id);
          }
      return new Map(
        [...users].flatMap((u) => {
          const s = replayer.stateOf(u);
          return s === undefined ? [] : [[u, s] as const];
        }),
      );
    };
    const options = {
      partition: 0,
      source: log,
      store,
      sink,
      deadLetters: new MemoryDeadLetters(),
      checkpoints,
      rebuild,
      rules: () => rules,
      leaseMs: 10_000,
      batchSize: 1,
    };
    const worker = new PartitionWorker({ ...options, holder: 'a' });
    for (let i = 0; i < 2; i++) expect((await worker.step()).kind).toBe('decided');
    const checkpoint = await checkpoints.load(0);
    expect(checkpoint).toBeGreaterThan(0);
    store.wipe();
    // The worker finds out at its next load, before it publishes anything decided from the empty
    // store (epochs start again at 1, so the lease alone would not tell); its next tenure rebuilds.
    const published = sink.publishes;
    expect((await worker.step()).kind).toBe('fenced');
    expect(sink.publishes).toBe(published);
    expect((await worker.step()).kind).toBe('restored');
    expect(rebuilt).toEqual([checkpoint]);
    await drain(worker);
    await drain(new PartitionWorker({ ...options, partition: 1, holder: 'a' }));
    const got = [...sink.byId.values()].sort((x, y) => x.seq - y.seq).map((d) => replayLine(d.decision));
    expect(linesByUser(got)).toEqual(linesByUser(expected));
  });
});
