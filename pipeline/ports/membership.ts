/**
 * The processes running the matcher. Contract: `heartbeat` records this process as alive and
 * returns every process that sent a heartbeat within `ttlMs` (this one included).
 */
export type Membership = {
  heartbeat(self: string, ttlMs: number): Promise<readonly string[]>;
};
