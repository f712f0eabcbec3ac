import type { UserState } from '../../core/user-state.ts';
import { stateFromJson } from '../../core/user-state.ts';
import type { CommitResult, LoadedStates, StateStore } from '../../ports/state-store.ts';

type Partition = {
  lease?: { holder: string; epoch: number; expires: number };
  epochs: number;
  applied: number;
  states: Map<string, string>;
};

/**
 * The state store in memory, for tests and simulations: the same contract as `RedisStateStore`
 * (a test suite runs against both), with the clock injected so leases expire when a test says.
 * States are kept as JSON, as Redis keeps them, so nothing shares objects with the caller.
 */
export class MemoryStateStore implements StateStore {
  private readonly partitions = new Map<number, Partition>();

  constructor(private readonly now: () => number) {}

  acquire(partition: number, holder: string, ttlMs: number): Promise<number | undefined> {
    const p = this.partition(partition);
    const lease = p.lease !== undefined && p.lease.expires > this.now() ? p.lease : undefined;
    if (lease !== undefined && lease.holder !== holder) return Promise.resolve(undefined);
    // As in Redis: a new epoch is at least the clock, so a wiped store never hands out an old one again.
    const epoch = lease?.epoch ?? (p.epochs = Math.max(p.epochs + 1, this.now()));
    p.lease = { holder, epoch, expires: this.now() + ttlMs };
    return Promise.resolve(epoch);
  }

  load(partition: number, userIds: readonly string[]): Promise<LoadedStates> {
    const p = this.partition(partition);
    const states = userIds.map((id) => {
      const json = p.states.get(id);
      return json === undefined ? undefined : stateFromJson(json);
    });
    return Promise.resolve({ applied: p.applied, states });
  }

  commit(
    partition: number,
    epoch: number,
    from: number,
    applied: number,
    states: ReadonlyMap<string, UserState>,
  ): Promise<CommitResult> {
    const p = this.partition(partition);
    if (this.leaseEpoch(p) !== epoch) return Promise.resolve('fenced');
    if (p.applied > from) return Promise.resolve('stale');
    if (p.applied < from) return Promise.resolve('lost');
    for (const [id, state] of states) p.states.set(id, JSON.stringify(state));
    p.applied = applied;
    return Promise.resolve('committed');
  }

  restore(
    partition: number,
    epoch: number,
    applied: number,
    states: ReadonlyMap<string, UserState>,
  ): Promise<CommitResult> {
    const p = this.partition(partition);
    if (this.leaseEpoch(p) !== epoch) return Promise.resolve('fenced');
    if (p.applied > 0) return Promise.resolve('stale');
    for (const [id, state] of states) p.states.set(id, JSON.stringify(state));
    p.applied = applied;
    return Promise.resolve('committed');
  }

  /** Loses everything, leases and epoch counters too, as a wiped Redis (FLUSHALL) does. */
  wipe(): void {
    this.partitions.clear();
  }

  private leaseEpoch(p: Partition): number | undefined {
    return p.lease !== undefined && p.lease.expires > this.now() ? p.lease.epoch : undefined;
  }

  private partition(partition: number): Partition {
    let p = this.partitions.get(partition);
    if (p === undefined) {
      p = { epochs: 0, applied: 0, states: new Map() };
      this.partitions.set(partition, p);
    }
    return p;
  }
}
