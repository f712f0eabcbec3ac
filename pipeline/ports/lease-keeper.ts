/**
 * What keeps a matcher process a member and the leases of its assigned partitions renewed.
 * Contract: `start` resolves after the first heartbeat (the partitions assigned, their leases taken
 * or renewed) or rejects with why it failed; `assigned` is the latest heartbeat's answer; after
 * `stop` nothing is renewed, so the leases lapse within their TTL.
 */
export type LeaseKeeper = {
  start(): Promise<void>;
  assigned(): ReadonlySet<number>;
  stop(): Promise<void>;
};
