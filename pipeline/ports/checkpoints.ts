import type { UserState } from '../core/user-state.ts';

/**
 * Each partition's committed position, kept outside the state store, so that a state store that
 * lost its data (a Redis wiped, or started without its files) is told apart from a new one.
 * Contract: `save` is called after a commit and may be lost, so a checkpoint is never beyond what
 * was committed, and every decision of the entries up to it is durable; `load` gives the last
 * saved position (0: none).
 */
export type Checkpoints = {
  save(partition: number, applied: number): Promise<void>;
  load(partition: number): Promise<number>;
};

/**
 * The states of a partition's users as they were at stream sequence `upTo`, rebuilt from the
 * audit once it holds everything up to there (it waits for that).
 */
export type PartitionRebuild = (partition: number, upTo: number) => Promise<ReadonlyMap<string, UserState>>;
