import { LRUCache } from 'lru-cache';
import type { UserState } from '../core/user-state.ts';
import type { CommitResult, LoadedStates, StateStore } from '../ports/state-store.ts';

/** A user known to have no state yet (lru-cache stores no undefined). */
const NONE = Symbol('no state');

/** This process's hold on a partition: its epoch, and the applied position once read or committed. */
type Tenure = { readonly epoch: number; applied: number | undefined };

/**
 * A bounded LRU of user states in front of a state store, so a batch loads from the store only
 * the users this process has not seen during its tenure. It is exact, not a guess: the cache of a
 * partition is kept only while this process holds the partition's lease under one epoch (only the
 * lease holder writes a partition's states, and fencing refuses everyone else), and is dropped the
 * moment the epoch changes, the lease is lost or a commit is refused. Partitions this process
 * does not own pass straight through. States are shared, not copied: the core never mutates one.
 */
export class CachedStateStore implements StateStore {
  private readonly cache: LRUCache<string, UserState | typeof NONE>;
  private readonly tenures = new Map<number, Tenure>();
  /** Hits and misses since start, for the matcher's status line. */
  readonly counts = { hits: 0, misses: 0 };

  constructor(
    private readonly store: StateStore,
    /** Users kept, over all partitions. */
    maxUsers: number,
  ) {
    this.cache = new LRUCache({ max: maxUsers });
  }

  async acquire(partition: number, holder: string, ttlMs: number): Promise<number | undefined> {
    const epoch = await this.store.acquire(partition, holder, ttlMs);
    if (this.tenures.get(partition)?.epoch !== epoch) {
      this.forget(partition);
      if (epoch !== undefined) this.tenures.set(partition, { epoch, applied: undefined });
    }
    return epoch;
  }

  async load(partition: number, userIds: readonly string[]): Promise<LoadedStates> {
    const tenure = this.tenures.get(partition);
    const cached = userIds.map((id) =>
      tenure === undefined ? undefined : this.cache.get(key(partition, id)),
    );
    const missing = userIds.filter((_, i) => cached[i] === undefined);
    this.counts.hits += userIds.length - missing.length;
    this.counts.misses += missing.length;
    if (tenure?.applied !== undefined && missing.length === 0)
      return { applied: tenure.applied, states: cached.map(fromCache) };
    const loaded = await this.store.load(partition, missing);
    if (tenure !== undefined) {
      tenure.applied ??= loaded.applied;
      missing.forEach((id, i) => this.cache.set(key(partition, id), loaded.states[i] ?? NONE));
    }
    let next = 0;
    const states = cached.map((hit) => (hit === undefined ? loaded.states[next++] : fromCache(hit)));
    return { applied: loaded.applied, states };
  }

  async commit(
    partition: number,
    epoch: number,
    from: number,
    applied: number,
    states: ReadonlyMap<string, UserState>,
  ): Promise<CommitResult> {
    const result = await this.store.commit(partition, epoch, from, applied, states);
    if (result !== 'committed') {
      this.forget(partition);
      return result;
    }
    const tenure = this.tenures.get(partition);
    if (tenure?.epoch !== epoch) return result;
    tenure.applied = applied;
    for (const [id, state] of states) this.cache.set(key(partition, id), state);
    return result;
  }

  async restore(
    partition: number,
    epoch: number,
    applied: number,
    states: ReadonlyMap<string, UserState>,
  ): Promise<CommitResult> {
    // Rare and whole-partition: the next batches load what they need again.
    this.forget(partition);
    return this.store.restore(partition, epoch, applied, states);
  }

  /** Drops what was cached for the partition, when this process's tenure of it ends. */
  private forget(partition: number): void {
    if (!this.tenures.delete(partition)) return;
    const prefix = `${partition}\u0000`;
    for (const k of this.cache.keys()) if (k.startsWith(prefix)) this.cache.delete(k);
  }
}

const key = (partition: number, userId: string) => `${partition}\u0000${userId}`;
const fromCache = (hit: UserState | typeof NONE | undefined) => (hit === NONE ? undefined : hit);
