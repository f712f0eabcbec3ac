import { once } from 'node:events';
import type { Worker } from 'node:worker_threads';
import type { HeldLease, LeaseKeeper } from '../pipeline/ports/lease-keeper.ts';
import { typeScriptWorker } from './typescript-worker.ts';

export type LeaseThreadData = {
  readonly redisUrl: string;
  readonly namespace: string;
  readonly holder: string;
  readonly partitions: number;
  readonly leaseMs: number;
  readonly memberTtlMs: number;
  /** How often the heartbeat runs (a second when not given). */
  readonly everyMs?: number;
  /** How long the matcher's thread may go without answering before its leases are let go. */
  readonly aliveMs: number;
};

export type FromLeaseThread =
  | {
      readonly kind: 'assigned';
      readonly partitions: readonly number[];
      readonly held: readonly (readonly [number, HeldLease])[];
    }
  | { readonly kind: 'report'; readonly line: string }
  | { readonly kind: 'failed'; readonly message: string };

/** How often the matcher's thread says it is alive. */
const ALIVE_EVERY_MS = 500;
/** A thread that ended by itself is started again after this. */
const RESTART_MS = 1_000;

/**
 * The matcher's heartbeat on a thread of its own (issue #20): the membership and the leases are
 * renewed by an event loop and a Redis connection that deciding, decoding and writing never hold
 * up, so a long batch or a saturated loop no longer lets a lease lapse and fences the batches in
 * flight. A process paused or cut off loses its leases as before: the thread is paused or cut off
 * with it. A matcher thread stuck for longer than `aliveMs` (it answers every half second) lets them
 * go too: the thread then stops renewing, and another process takes the partitions.
 */
export class ThreadLeases implements LeaseKeeper {
  private worker: Worker | undefined;
  private current: ReadonlySet<number> = new Set();
  private leases: ReadonlyMap<number, HeldLease> = new Map();
  private alive: NodeJS.Timeout | undefined;
  private stopping = false;

  constructor(
    private readonly data: LeaseThreadData,
    private readonly report: (line: string) => void,
  ) {}

  start(): Promise<void> {
    return new Promise((resolve, reject) => {
      const worker = typeScriptWorker(new URL('./lease-thread-worker.ts', import.meta.url), this.data);
      this.worker = worker;
      let started = false;
      const failed = (error: Error) => {
        clearInterval(this.alive);
        void worker.terminate();
        reject(error);
      };
      worker.on('message', (message: FromLeaseThread) => {
        if (message.kind === 'assigned') {
          this.current = new Set(message.partitions);
          this.leases = new Map(message.held);
          started = true;
          resolve();
        } else if (message.kind === 'report') this.report(message.line);
        else if (started) this.report(`lease thread: ${message.message}`);
        else failed(new Error(message.message));
      });
      worker.on('error', (error) => {
        if (started) this.report(`lease thread: ${error.message}`);
        else failed(error);
      });
      worker.on('exit', () => {
        // A thread gone is not waited for on stop.
        if (this.worker === worker) this.worker = undefined;
        clearInterval(this.alive);
        if (this.stopping || !started) return;
        // Its leases lapse while it is gone: the partitions' batches are fenced, never lost.
        this.report('the lease thread ended; starting it again');
        this.current = new Set();
        this.leases = new Map();
        this.restart();
      });
      this.alive = setInterval(() => {
        worker.postMessage('alive');
      }, ALIVE_EVERY_MS);
    });
  }

  assigned(): ReadonlySet<number> {
    return this.current;
  }

  held(partition: number): HeldLease | undefined {
    return this.leases.get(partition);
  }

  /** Starts the thread again after a pause, and again until it starts or the keeper stops. */
  private restart(): void {
    setTimeout(() => {
      if (this.stopping) return;
      this.start().catch((error: unknown) => {
        this.report(`the lease thread did not start again (${(error as Error).message}); trying again`);
        this.restart();
      });
    }, RESTART_MS);
  }

  async stop(): Promise<void> {
    this.stopping = true;
    clearInterval(this.alive);
    const worker = this.worker;
    if (worker === undefined) return;
    const exited = once(worker, 'exit');
    worker.postMessage('stop');
    const timeout = setTimeout(() => void worker.terminate(), 5_000);
    await exited;
    clearTimeout(timeout);
  }
}
