import { setTimeout as sleep } from 'node:timers/promises';
import type { NatsConnection } from 'nats';
import { JetStreamPublisher } from '../../pipeline/adapters/nats/jetstream-publisher.ts';
import { LogAppender } from '../../pipeline/adapters/nats/log-appender.ts';
import type { LogEntry } from '../../pipeline/core/log-entry.ts';
import type { Namespace } from '../../pipeline/namespace.ts';
import { parseEntry } from '../../pipeline/parse-entry.ts';
import { seededRandom, writeWorkloadLog } from '../../bench/core/workload.ts';

export type LoadOptions = {
  readonly users: number;
  /** Entries a second, sent in 20 slices a second. */
  readonly rate: number;
  readonly seed: number;
  /** Of the entries acknowledged, the share sent again with the same id (half with the same `received_at`, half stamped anew). */
  readonly retryShare?: number;
};

/**
 * A seeded workload published at a steady rate through the API's own path into the log
 * (`LogAppender`: packed per partition, acknowledged by JetStream), recording every entry id
 * acknowledged to it. An append that fails (NATS down) is tried again with the same entries, as a
 * client does, until it is acknowledged; `received_at` is stamped when an entry is first sent.
 */
export class LoadGenerator {
  /** Acknowledged entries: `user_id` and id. */
  readonly acked = new Map<string, { user_id: string; id: string }>();
  readonly counts = { sent: 0, failedAppends: 0, retriedIds: 0 };
  /** A sample of what was acknowledged, for the retries to draw from. */
  private readonly sentBefore: LogEntry[] = [];
  private running: Promise<void> | undefined;
  private stopping = false;
  private readonly appender: LogAppender;
  private readonly random: () => number;

  constructor(
    nc: NatsConnection,
    ns: Namespace,
    partitions: number,
    private readonly options: LoadOptions,
  ) {
    this.appender = new LogAppender(new JetStreamPublisher(nc), ns, partitions);
    this.random = seededRandom(options.seed);
  }

  start(): void {
    this.running = this.loop();
  }

  /** Stops sending and waits until every append in flight is acknowledged. */
  async stop(): Promise<void> {
    this.stopping = true;
    await this.running;
  }

  private async loop(): Promise<void> {
    const slice = Math.max(1, Math.round(this.options.rate / 20));
    // Ten minutes of traffic: longer than any run.
    const entries = await workloadEntries(this.options.users, slice * 20 * 600, this.options.seed);
    const inFlight = new Set<Promise<void>>();
    let next = 0;
    let tick = performance.now();
    while (!this.stopping && next < entries.length) {
      const now = Date.now();
      const batch = entries.slice(next, next + slice).map((e) => ({ ...e, received_at: now }));
      next += batch.length;
      batch.push(...this.retries(now));
      const sending = this.send(batch).finally(() => inFlight.delete(sending));
      inFlight.add(sending);
      tick += 50;
      await sleep(Math.max(0, tick - performance.now()));
    }
    await Promise.all(inFlight);
  }

  /** Entries acknowledged before, sent again: a client retrying inside JetStream's duplicate window, or after it. */
  private retries(now: number): LogEntry[] {
    const share = this.options.retryShare ?? 0;
    if (share === 0 || this.sentBefore.length === 0) return [];
    const out: LogEntry[] = [];
    const count = Math.round(share * Math.max(1, this.options.rate / 20));
    for (let i = 0; i < count; i++) {
      const entry = this.sentBefore[Math.floor(this.random() * this.sentBefore.length)];
      if (entry === undefined) continue;
      out.push(this.random() < 0.5 ? entry : { ...entry, received_at: now });
    }
    this.counts.retriedIds += out.length;
    return out;
  }

  private async send(batch: readonly LogEntry[]): Promise<void> {
    this.counts.sent += batch.length;
    for (;;) {
      try {
        await this.appender.append(batch);
        for (const entry of batch) this.acked.set(`${entry.user_id}\u0000${entry.id}`, entry);
        if (this.sentBefore.length < 10_000) this.sentBefore.push(...batch.slice(0, 5));
        return;
      } catch {
        this.counts.failedAppends++;
        await sleep(250);
      }
    }
  }
}

/** The workload's entries (bench/core's traffic mix), ids unique to the seed. */
async function workloadEntries(users: number, entries: number, seed: number): Promise<LogEntry[]> {
  const out: LogEntry[] = [];
  const size = { entries: Math.min(entries, 400_000), users, messages: CHAOS_MESSAGES, events: CHAOS_EVENTS };
  await writeWorkloadLog(
    size,
    {
      writeLine: (line) => {
        const entry = parseEntry(line, () => 'workload');
        out.push({ ...entry, id: `s${seed}-${entry.id}` });
      },
      flush: () => Promise.resolve(),
      close: () => Promise.resolve(),
    },
    seededRandom(seed),
  );
  return out;
}

export const CHAOS_MESSAGES = 40;
export const CHAOS_EVENTS = 8;
