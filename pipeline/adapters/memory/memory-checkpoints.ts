import type { Checkpoints } from '../../ports/checkpoints.ts';

/** Checkpoints in memory, for tests and simulations. */
export class MemoryCheckpoints implements Checkpoints {
  readonly positions = new Map<number, number>();

  save(partition: number, applied: number): Promise<void> {
    this.positions.set(partition, applied);
    return Promise.resolve();
  }

  load(partition: number): Promise<number> {
    return Promise.resolve(this.positions.get(partition) ?? 0);
  }
}
