import type { UserState } from '../core/user-state.ts';

/**
 * Where user states and each partition's applied position live, with fencing (DESIGN §5): a
 * partition has one owner at a time, holding a lease that carries an epoch; every write names the
 * epoch, and a write under an epoch that no longer holds the lease is refused, so a process that
 * was paused past its lease can never write again.
 */
export type StateStore = {
  /**
   * Takes the partition's lease for `holder`, or renews it when `holder` has it. Returns the
   * epoch (greater than every epoch before it for this partition), or undefined when another
   * holder has the lease.
   */
  acquire(partition: number, holder: string, ttlMs: number): Promise<number | undefined>;
  /** The states of these users (undefined for a user with none) and the partition's applied position, in one round trip. */
  load(partition: number, userIds: readonly string[]): Promise<LoadedStates>;
  /**
   * Atomically writes the states and the new applied position, if `epoch` still holds the lease
   * and `applied` is beyond the stored position. Idempotent in effect: a batch committed once is
   * never committed again (its position is no longer beyond). Returns why it refused, if it did.
   */
  commit(
    partition: number,
    epoch: number,
    applied: number,
    states: ReadonlyMap<string, UserState>,
  ): Promise<CommitResult>;
};

export type LoadedStates = { readonly states: readonly (UserState | undefined)[]; readonly applied: number };
export type CommitResult = 'committed' | 'fenced' | 'stale';
