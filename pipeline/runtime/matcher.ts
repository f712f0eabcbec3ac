import type { Checkpoints, PartitionRebuild } from '../ports/checkpoints.ts';
import type { DeadLetterSink } from '../ports/dead-letters.ts';
import type { DecisionSink } from '../ports/decision-sink.ts';
import type { LeaseKeeper } from '../ports/lease-keeper.ts';
import type { LogSource } from '../ports/log-source.ts';
import type { Membership } from '../ports/membership.ts';
import type { StateStore } from '../ports/state-store.ts';
import type { NudgeMetrics } from './metrics.ts';
import { InProcessLeases } from './in-process-leases.ts';
import { Pauses } from './pauses.ts';
import type { Step } from './step-loops.ts';
import { every, StepLoops } from './step-loops.ts';
import type { Rules } from './partition-worker.ts';
import { PartitionWorker } from './partition-worker.ts';

export type MatcherOptions = {
  readonly holder: string;
  readonly partitions: number;
  readonly membership: Membership;
  readonly store: StateStore;
  readonly source: LogSource;
  readonly sink: DecisionSink;
  readonly deadLetters: DeadLetterSink;
  readonly checkpoints: Checkpoints;
  readonly rebuild: PartitionRebuild;
  /** The rules now in force, or undefined when they have not changed since the last call. */
  readonly refreshRules: () => Promise<Rules | undefined>;
  /** Other work the process runs beside the partitions (audit writers, the held sends' releaser, the in-app inboxes): each step returns what it did. */
  readonly background: readonly Step[];
  readonly report: (line: string) => void;
  readonly leaseMs?: number;
  readonly memberTtlMs?: number;
  /**
   * What keeps the membership and the leases (from `membership` and `store`, on this event loop,
   * when not given): `nudge start` gives one on a thread of its own, which a busy loop cannot starve.
   */
  readonly leases?: LeaseKeeper;
  readonly batchSize?: number;
  readonly metrics?: NudgeMetrics;
};

/**
 * A matcher process: it keeps its membership alive, owns the partitions assigned to it (leases
 * settle any overlap while membership changes), keeps the rules current (a change is in force
 * within a second), and runs the background work, until the signal aborts. When a process dies,
 * its members entry and leases expire and the others take its partitions (within `memberTtlMs` +
 * `leaseMs`).
 */
export class Matcher {
  private rules: Rules | undefined;
  private leases: LeaseKeeper | undefined;
  private readonly counts = { entries: 0, decisions: 0, refused: 0 };
  private readonly background: StepLoops;

  constructor(private readonly options: MatcherOptions) {
    this.background = new StepLoops(options.background, options.report);
  }

  async run(signal: AbortSignal): Promise<void> {
    const pauses = new Pauses(signal);
    const initial = await this.options.refreshRules();
    if (initial === undefined) throw new Error('no rules to start with');
    this.rules = initial;
    const {
      membership,
      store,
      holder,
      partitions,
      memberTtlMs = MEMBER_TTL_MS,
      leaseMs = LEASE_MS,
    } = this.options;
    // A lease outlives a long batch: it is lost only when the keeper stops renewing it (the process
    // died, or was paused past it), and then fencing refuses whatever the process still tries to commit.
    const leases =
      this.options.leases ??
      new InProcessLeases({
        holder,
        partitions,
        membership,
        store,
        leaseMs,
        memberTtlMs,
        report: this.options.report,
      });
    await leases.start();
    this.leases = leases;
    try {
      await Promise.all([
        // Four looks a second, so a change is in force within a second of being stored.
        every(
          250,
          pauses,
          async () => {
            this.rules = (await this.options.refreshRules()) ?? this.rules;
          },
          this.options.report,
        ),
        every(
          5_000,
          pauses,
          () => {
            this.status();
            return Promise.resolve();
          },
          this.options.report,
        ),
        ...Array.from({ length: partitions }, (_, p) => this.partitionLoop(p, signal, pauses)),
        ...this.background.loops(signal, pauses),
      ]);
    } finally {
      await leases.stop();
    }
  }

  private get assigned(): ReadonlySet<number> {
    return this.leases?.assigned() ?? new Set();
  }

  private async partitionLoop(partition: number, signal: AbortSignal, pauses: Pauses): Promise<void> {
    const { holder, store, source, sink, deadLetters, checkpoints, rebuild, report } = this.options;
    const { leaseMs = LEASE_MS, batchSize = 100 } = this.options;
    const rules = () => this.rules ?? fail('rules not loaded');
    const worker = new PartitionWorker({
      partition,
      holder,
      store,
      source,
      sink,
      deadLetters,
      checkpoints,
      rebuild,
      report,
      rules,
      leaseMs,
      lease: (p) => this.leases?.held(p),
      batchSize,
    });
    while (!signal.aborted) {
      if (!this.assigned.has(partition)) {
        await pauses.pause(250);
        continue;
      }
      try {
        const started = performance.now();
        const result = await worker.step();
        if (result.kind === 'decided') {
          this.counts.entries += result.entries;
          this.counts.decisions += result.decisions;
          this.options.metrics?.countDecisions(result.batch);
          this.options.metrics?.repeats.inc(result.repeats);
          for (const letter of result.deadLetters) {
            this.options.metrics?.deadLetters.inc({ kind: letter.kind });
            this.options.report(`partition ${partition}: dead-lettered (${letter.kind}): ${letter.problem}`);
          }
          this.options.metrics?.batchSeconds.observe((performance.now() - started) / 1000);
        } else if (result.kind === 'not-owner' || result.kind === 'fenced') {
          // Fenced: a batch decided under a lease (or a position) no longer this process's, not committed.
          if (result.kind === 'fenced') this.counts.refused++;
          await pauses.pause(500);
        }
      } catch (error) {
        this.options.report(`partition ${partition}: ${(error as Error).message}; retrying`);
        await pauses.pause(1_000);
      }
    }
  }

  private status(): void {
    const background = this.background.summary();
    this.options.report(
      `partitions [${[...this.assigned].join(', ')}] · ${this.counts.entries} entries, ${this.counts.decisions} decisions` +
        (this.counts.refused > 0 ? `, ${this.counts.refused} batches refused (fenced)` : '') +
        (background ? ` · ${background}` : ''),
    );
  }
}

/** A partition's lease: renewed every second, so another process takes over within it (plus the member TTL) after a death. */
export const LEASE_MS = 3_000;
/** A member that sent no heartbeat for this long is gone, and its partitions are assigned again. */
export const MEMBER_TTL_MS = 5_000;

const fail = (message: string): never => {
  throw new Error(message);
};
