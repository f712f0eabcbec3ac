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
   * Atomically writes the states and moves the applied position from `from` to `applied`, if
   * `epoch` still holds the lease and the stored position is still `from` (compare and set).
   * Idempotent in effect: a batch committed once is never committed again. Returns why it
   * refused, if it did: `fenced` (the lease is gone or has another epoch), `stale` (the position
   * moved beyond `from`: someone committed since), `lost` (the store holds less than `from`: it lost
   * writes, as a wiped or rolled-back Redis does).
   */
  commit(
    partition: number,
    epoch: number,
    from: number,
    applied: number,
    states: ReadonlyMap<string, UserState>,
  ): Promise<CommitResult>;
  /**
   * Puts back a partition's states as they were at `applied` (rebuilt from the audit, after the
   * store lost them), if `epoch` holds the lease and no applied position is stored: the position
   * is written last, so a restore cut short is done again by the next owner.
   */
  restore(
    partition: number,
    epoch: number,
    applied: number,
    states: ReadonlyMap<string, UserState>,
  ): Promise<CommitResult>;
};

export type LoadedStates = { readonly states: readonly (UserState | undefined)[]; readonly applied: number };
export type CommitResult = 'committed' | 'fenced' | 'stale' | 'lost';
