import type { HeldLease, LeaseKeeper } from '../ports/lease-keeper.ts';
import { leaseClock } from '../ports/lease-keeper.ts';
import type { Membership } from '../ports/membership.ts';
import type { StateStore } from '../ports/state-store.ts';
import { assignedPartitions } from './partition-assignment.ts';

export type LeaseOptions = {
  readonly holder: string;
  readonly partitions: number;
  readonly membership: Membership;
  readonly store: Pick<StateStore, 'acquire'>;
  readonly leaseMs: number;
  readonly memberTtlMs: number;
  /** How often the heartbeat runs: well inside `leaseMs`. */
  readonly everyMs?: number;
  readonly report: (line: string) => void;
  /** Asked before each heartbeat: false skips it (the lease thread's owner stopped answering). */
  readonly shouldRenew?: () => boolean;
  /** Told each heartbeat's partitions and the leases it renewed. */
  readonly onAssigned?: (partitions: ReadonlySet<number>, held: ReadonlyMap<number, HeldLease>) => void;
};

/**
 * The heartbeat on the caller's own event loop: every second, the membership kept alive, the
 * partitions assigned from the members, and their leases renewed. A loop busy for longer than the
 * lease starves it (issue #20): `nudge start` runs it on a thread of its own (bin/lease-thread.ts),
 * tests and the simulation run it here.
 */
export class InProcessLeases implements LeaseKeeper {
  private current = new Set<number>();
  private leases = new Map<number, HeldLease>();
  private timer: NodeJS.Timeout | undefined;
  private beating: Promise<void> = Promise.resolve();
  private stopped = false;

  constructor(private readonly options: LeaseOptions) {}

  async start(): Promise<void> {
    await this.beat();
    this.schedule();
  }

  assigned(): ReadonlySet<number> {
    return this.current;
  }

  held(partition: number): HeldLease | undefined {
    return this.leases.get(partition);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.beating.catch(() => undefined);
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.beating = this.beat()
        .catch((error: unknown) => {
          this.options.report(`${(error as Error).message}; retrying`);
        })
        .finally(() => {
          this.schedule();
        });
    }, this.options.everyMs ?? 1_000);
  }

  private async beat(): Promise<void> {
    const { membership, store, holder, partitions, leaseMs, memberTtlMs } = this.options;
    if (this.options.shouldRenew?.() === false) return;
    const members = await membership.heartbeat(holder, memberTtlMs);
    this.current = new Set(assignedPartitions(members, holder, partitions));
    const held = new Map<number, HeldLease>();
    await Promise.all(
      [...this.current].map(async (partition) => {
        // Measured from before the request: the lease runs at least this long from there.
        const until = leaseClock() + leaseMs;
        const epoch = await store.acquire(partition, holder, leaseMs);
        if (epoch !== undefined) held.set(partition, { epoch, until });
      }),
    );
    this.leases = held;
    this.options.onAssigned?.(this.current, held);
  }
}
