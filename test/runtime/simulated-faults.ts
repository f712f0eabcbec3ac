import type { UserState } from '../../pipeline/core/user-state.ts';
import type { Checkpoints } from '../../pipeline/ports/checkpoints.ts';
import type { DecisionSink, PositionedDecision } from '../../pipeline/ports/decision-sink.ts';
import type { CommitResult, LoadedStates, StateStore } from '../../pipeline/ports/state-store.ts';

/**
 * The durable decisions stream of the simulation: like JetStream with `Nats-Msg-Id` = decision id,
 * it keeps the first decision offered under an id and drops the rest. Dropping is what hides a
 * matcher that decides an entry twice, so every offer is counted and a repeat that differs from
 * what was kept is recorded: downstream (ReplacingMergeTree keeps the last row, a sender the first)
 * two different decisions under one id are two different truths.
 */
export class DedupStream {
  readonly byId = new Map<string, PositionedDecision>();
  readonly offers = new Map<string, number>();
  readonly conflicts: { readonly kept: PositionedDecision; readonly offered: PositionedDecision }[] = [];

  offer(decision: PositionedDecision): void {
    const id = decision.decision.decision_id;
    this.offers.set(id, (this.offers.get(id) ?? 0) + 1);
    const kept = this.byId.get(id);
    if (kept === undefined) this.byId.set(id, decision);
    else if (JSON.stringify(kept) !== JSON.stringify(decision))
      this.conflicts.push({ kept, offered: decision });
  }
}

export const PUBLISH_FAULTS = ['publish-fails', 'ack-lost', 'duplicate', 'hold'] as const;
export const STORE_FAULTS = [
  'acquire-reply-lost',
  'load-fails',
  'commit-fails',
  'commit-reply-lost',
] as const;
/** The checkpoint contract allows a save to be lost; silently is the hardest way. */
export const CHECKPOINT_FAULTS = ['checkpoint-lost'] as const;
export type PublishFault = (typeof PUBLISH_FAULTS)[number];
export type StoreFault = (typeof STORE_FAULTS)[number];
export type CheckpointFault = (typeof CHECKPOINT_FAULTS)[number];
/** How a held publish ends: it lands and is acked, it never lands, or it lands and the ack is lost. */
export type Release = 'ok' | 'fails' | 'ack-lost';

/** A failure the simulation injected: an ordinary error the process's loop retries. */
export class InjectedFault extends Error {}

/**
 * One process's connection to the stream, with the fault armed for its next publish. `hold` keeps
 * the publish pending until the scheduler releases it: the worker is then paused between making
 * its decisions and committing them, while the clock and the other processes move on.
 */
export class FaultySink implements DecisionSink {
  armed: PublishFault | undefined;
  private previous: readonly PositionedDecision[] = [];
  private held: { decisions: readonly PositionedDecision[]; settle: (error?: Error) => void } | undefined;
  private onHold: (() => void) | undefined;

  constructor(private readonly stream: DedupStream) {}

  publish(decisions: readonly PositionedDecision[]): Promise<void> {
    const fault = this.armed;
    this.armed = undefined;
    const earlier = this.previous;
    this.previous = decisions;
    switch (fault) {
      case undefined:
        this.land(decisions);
        return Promise.resolve();
      case 'publish-fails':
        return Promise.reject(new InjectedFault('publish failed before anything was durable'));
      case 'ack-lost':
        this.land(decisions);
        return Promise.reject(new InjectedFault('published, but the ack was lost'));
      case 'duplicate':
        // A client retry delivers this batch twice, and a late retry of the one before lands again.
        this.land(decisions);
        this.land(decisions);
        this.land(earlier);
        return Promise.resolve();
      case 'hold':
        return new Promise((resolve, reject) => {
          const settle = (error?: Error) => {
            if (error === undefined) resolve();
            else reject(error);
          };
          this.held = { decisions, settle };
          this.onHold?.();
        });
    }
  }

  /** Resolves when the next publish is held (never, if the step ends first). */
  nextHold(): Promise<void> {
    return new Promise((resolve) => (this.onHold = resolve));
  }

  get isHolding(): boolean {
    return this.held !== undefined;
  }

  release(how: Release): void {
    const held = this.take();
    if (how !== 'fails') this.land(held.decisions);
    held.settle(how === 'ok' ? undefined : new InjectedFault(`held publish released: ${how}`));
  }

  /** The process died while publishing: the publish may have landed, and nothing ever resumes. */
  abandon(landed: boolean): void {
    const held = this.take();
    if (landed) this.land(held.decisions);
  }

  private take() {
    const held = this.held ?? fail('no publish is held');
    this.held = undefined;
    return held;
  }

  private land(decisions: readonly PositionedDecision[]): void {
    for (const decision of decisions) this.stream.offer(decision);
  }
}

export type WriteRecord = {
  readonly kind: 'commit' | 'restore';
  readonly partition: number;
  /** How many times the store had lost everything before: epochs start again at 1 after a wipe. */
  readonly generation: number;
  readonly epoch: number;
  readonly applied: number;
  readonly holder: string;
  /** The generation the writer's epoch was granted in: older than `generation` when its tenure predates a wipe. */
  readonly tenure: number;
  /** The newest lease granted for the partition in this generation when the write was applied. */
  readonly newest: { readonly epoch: number; readonly holder: string } | undefined;
};

/** Every lease granted and every write applied, across all processes: what fencing is checked against. */
export class StoreJournal {
  generation = 0;
  /** partition → epoch → holder, in the current generation. */
  private granted = new Map<number, Map<number, string>>();
  readonly writes: WriteRecord[] = [];
  readonly problems: string[] = [];

  grant(partition: number, epoch: number, holder: string): void {
    const epochs = this.granted.get(partition) ?? new Map<number, string>();
    this.granted.set(partition, epochs);
    const before = epochs.get(epoch);
    if (before !== undefined && before !== holder)
      this.problems.push(`partition ${partition}: epoch ${epoch} granted to ${before} and to ${holder}`);
    epochs.set(epoch, holder);
  }

  /** The store lost everything, leases and epoch counters too. */
  wiped(): void {
    this.generation++;
    this.granted = new Map();
  }

  write(record: Omit<WriteRecord, 'generation' | 'newest'>): void {
    const epochs = this.granted.get(record.partition) ?? new Map<number, string>();
    const epoch = Math.max(0, ...epochs.keys());
    const holder = epochs.get(epoch);
    const newest = holder === undefined ? undefined : { epoch, holder };
    this.writes.push({ ...record, generation: this.generation, newest });
  }
}

/**
 * One process's connection to the state store, with the fault armed for its next call of that
 * kind; a lost reply is a Redis script that ran but whose answer never came back (a timeout, a
 * reset connection), so the caller cannot tell it from one that never ran.
 */
export class FaultyStore implements StateStore {
  armed: StoreFault | undefined;
  /** `partition:epoch` → the generation this connection was granted it in. */
  private readonly tenures = new Map<string, number>();

  constructor(
    private readonly inner: StateStore,
    private readonly holder: string,
    private readonly journal: StoreJournal,
  ) {}

  async acquire(partition: number, holder: string, ttlMs: number): Promise<number | undefined> {
    const epoch = await this.inner.acquire(partition, holder, ttlMs);
    if (epoch !== undefined) {
      this.journal.grant(partition, epoch, holder);
      this.tenures.set(`${partition}:${epoch}`, this.journal.generation);
    }
    this.fault('acquire-reply-lost');
    return epoch;
  }

  load(partition: number, userIds: readonly string[]): Promise<LoadedStates> {
    this.fault('load-fails');
    return this.inner.load(partition, userIds);
  }

  async commit(
    partition: number,
    epoch: number,
    from: number,
    applied: number,
    states: ReadonlyMap<string, UserState>,
  ): Promise<CommitResult> {
    this.fault('commit-fails');
    const result = await this.inner.commit(partition, epoch, from, applied, states);
    if (result === 'committed')
      this.journal.write({ kind: 'commit', partition, epoch, applied, ...this.writer(partition, epoch) });
    this.fault('commit-reply-lost');
    return result;
  }

  async restore(
    partition: number,
    epoch: number,
    applied: number,
    states: ReadonlyMap<string, UserState>,
  ): Promise<CommitResult> {
    const result = await this.inner.restore(partition, epoch, applied, states);
    if (result === 'committed')
      this.journal.write({ kind: 'restore', partition, epoch, applied, ...this.writer(partition, epoch) });
    return result;
  }

  private writer(partition: number, epoch: number) {
    return { holder: this.holder, tenure: this.tenures.get(`${partition}:${epoch}`) ?? -1 };
  }

  private fault(kind: StoreFault): void {
    if (this.armed !== kind) return;
    this.armed = undefined;
    throw new InjectedFault(kind);
  }
}

/** One process's connection to the checkpoints, with a lost save armed for its next save. */
export class FaultyCheckpoints implements Checkpoints {
  armed: CheckpointFault | undefined;

  constructor(private readonly inner: Checkpoints) {}

  save(partition: number, applied: number): Promise<void> {
    if (this.armed === undefined) return this.inner.save(partition, applied);
    this.armed = undefined;
    return Promise.resolve();
  }

  load(partition: number): Promise<number> {
    return this.inner.load(partition);
  }
}

const fail = (message: string): never => {
  throw new Error(message);
};
