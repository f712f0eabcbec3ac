/**
 * What keeps a matcher process a member and the leases of its assigned partitions renewed.
 * Contract: `start` resolves after the first heartbeat (the partitions assigned, their leases taken
 * or renewed) or rejects with why it failed; `assigned` is the latest heartbeat's answer; after
 * `stop` nothing is renewed, so the leases lapse within their TTL.
 */
export type LeaseKeeper = {
  start(): Promise<void>;
  assigned(): ReadonlySet<number>;
  /**
   * The partition's lease as the latest renewal left it: its epoch, and the time (`leaseClock`)
   * until which no other holder can take it. Undefined when it was not renewed for this holder.
   */
  held(partition: number): HeldLease | undefined;
  stop(): Promise<void>;
};

export type HeldLease = { readonly epoch: number; readonly until: number };

/**
 * The clock leases are measured on, the same in every thread of a process: milliseconds of wall
 * time, moving as the monotonic clock does from each thread's start.
 */
export const leaseClock = (): number => performance.timeOrigin + performance.now();
