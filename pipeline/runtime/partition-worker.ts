import type { CompiledCaps } from '../core/caps.ts';
import type { DecideFunction } from '../core/guarded-decide.ts';
import { decideGuarded } from '../core/guarded-decide.ts';
import type { RuleIndex } from '../core/rule-index.ts';
import type { UserState } from '../core/user-state.ts';
import { EMPTY_USER_STATE } from '../core/user-state.ts';
import { entryJson } from '../json-in-sent-order.ts';
import type { Checkpoints, PartitionRebuild } from '../ports/checkpoints.ts';
import type { DeadLetter, DeadLetterSink } from '../ports/dead-letters.ts';
import type { HeldLease } from '../ports/lease-keeper.ts';
import { leaseClock } from '../ports/lease-keeper.ts';
import { DEAD_LETTER_LINE_CHARS } from '../ports/dead-letters.ts';
import type { DecisionSink, PositionedDecision } from '../ports/decision-sink.ts';
import type { LogMessage, LogSource } from '../ports/log-source.ts';
import type { StateStore } from '../ports/state-store.ts';

export type Rules = {
  readonly index: RuleIndex;
  readonly caps: CompiledCaps;
  /** Which version of the caps these are (their catalog sequence; 0: none), recorded with each decision. */
  readonly capsVersion?: number;
};

export type WorkerOptions = {
  readonly partition: number;
  /** This process, as lease holder. */
  readonly holder: string;
  readonly source: LogSource;
  readonly store: StateStore;
  readonly sink: DecisionSink;
  /** Each partition's committed position outside the store, to tell a store that lost its data. */
  readonly checkpoints: Checkpoints;
  /** The partition's states rebuilt from the audit, for a store that lost them. */
  readonly rebuild: PartitionRebuild;
  /** Told when the store is found to have lost the partition's states, and when they are back. */
  readonly report?: (line: string) => void;
  /** Where lines that are no entries, and entries the core threw on, go (before the commit, so none is lost). */
  readonly deadLetters: DeadLetterSink;
  /** The rules in force (the matcher swaps them when the message set changes). */
  readonly rules: () => Rules;
  readonly leaseMs: number;
  /**
   * The partition's lease as the process's lease keeper last renewed it: while it holds this
   * tenure's epoch for at least half a lease more, a step does not ask the store again.
   */
  readonly lease?: (partition: number) => HeldLease | undefined;
  readonly batchSize: number;
  /** The core's `decide`: a test may wrap it to make it throw. */
  readonly decide?: DecideFunction;
};

/** What one step did: decided a batch, found nothing to do, or found the partition owned elsewhere. */
export type StepResult =
  | {
      readonly kind: 'decided';
      readonly messages: number;
      readonly entries: number;
      readonly decisions: number;
      /** Entries dropped as repeats of entries already applied (DESIGN §2). */
      readonly repeats: number;
      /** Lines and entries dead-lettered. */
      readonly deadLetters: readonly DeadLetter[];
      /** The batch's decisions, for the process's counts. */
      readonly batch: readonly PositionedDecision[];
    }
  | { readonly kind: 'idle' | 'not-owner' | 'fenced' | 'restored' };

/**
 * The owner of one partition (DESIGN §5): each step reads a batch after the applied position,
 * loads its users' states in one round trip, decides with the core, makes the decisions durable,
 * then commits the states and the new applied position atomically under its lease epoch. The
 * applied position is the only cursor: a crash at any point, or a lost lease, makes the next owner
 * read again from the last commit, and decisions published again are the same decisions with the
 * same ids, which the sink drops.
 */
export class PartitionWorker {
  private epoch: number | undefined;
  private applied = 0;
  /** The checkpoint save in flight, and the position to save after it (the latest commit's). */
  private saving = false;
  private toSave: number | undefined;

  constructor(private readonly options: WorkerOptions) {}

  async step(): Promise<StepResult> {
    const { partition, holder, source, store, sink, leaseMs, batchSize } = this.options;
    const epoch = this.renewedEpoch() ?? (await store.acquire(partition, holder, leaseMs));
    if (epoch === undefined) {
      this.epoch = undefined;
      return { kind: 'not-owner' };
    }
    if (epoch !== this.epoch) {
      // A new tenure: someone else may have committed since, so start from the stored position.
      const stored = (await store.load(partition, [])).applied;
      const checkpoint = await this.options.checkpoints.load(partition);
      if (stored === 0 && checkpoint > 0) return this.restore(epoch, checkpoint);
      // A store behind its checkpoint but not empty lost only its last writes (a Redis restarted
      // from an append-only file a second old): what it holds is a commit, so go on from there.
      this.applied = stored;
      this.epoch = epoch;
    }
    const messages = await source.read(partition, this.applied, batchSize);
    const last = messages[messages.length - 1];
    if (last === undefined) return { kind: 'idle' };
    const users = [...new Set(messages.flatMap((m) => m.entries.map((e) => e.user_id)))];
    const loaded = await store.load(partition, users);
    if (loaded.applied !== this.applied) {
      // The store's position moved under this tenure: another owner committed, or the store lost
      // writes (after a wipe, this process may hold the lease again without its epoch telling).
      // States read now may be empty or old, and decisions made from them would be published
      // under their real ids: decide nothing.
      this.epoch = undefined;
      return { kind: 'fenced' };
    }
    const states = new Map<string, UserState | undefined>(users.map((user, i) => [user, loaded.states[i]]));
    const { decisions, changed, entries, repeats, letters } = this.decideAll(messages, states);
    await Promise.all([sink.publish(decisions), this.options.deadLetters.publish(letters)]);
    const outcome = await store.commit(partition, epoch, this.applied, last.seq, changed);
    if (outcome !== 'committed') {
      // The lease moved on, this batch was committed already, or the store lost writes: the next
      // tenure starts afresh from what the store (or, when it lost everything, the audit) holds.
      this.epoch = undefined;
      return { kind: 'fenced' };
    }
    this.applied = last.seq;
    this.checkpoint(last.seq);
    return {
      kind: 'decided',
      messages: messages.length,
      entries,
      decisions: decisions.length,
      repeats,
      deadLetters: letters,
      batch: decisions,
    };
  }

  /**
   * This tenure's epoch, when the lease keeper renewed it recently enough: no other holder can
   * take the lease for half a lease yet, so none can have committed, and the states this process
   * cached are the stored ones (what asking the store each step made sure of, one round trip less).
   */
  private renewedEpoch(): number | undefined {
    const held = this.options.lease?.(this.options.partition);
    if (held === undefined || this.epoch === undefined || held.epoch !== this.epoch) return undefined;
    return held.until - leaseClock() > this.options.leaseMs / 2 ? held.epoch : undefined;
  }

  /**
   * Saves the checkpoint without holding up the next batch: one save in flight, then the latest
   * position committed meanwhile. A save lost or late only makes a restore start further back
   * (the `Checkpoints` contract), and the entries after it are decided again to the same decisions.
   */
  private checkpoint(applied: number): void {
    this.toSave = applied;
    if (this.saving) return;
    this.saving = true;
    void (async () => {
      const { partition, checkpoints, report } = this.options;
      for (let next = this.toSave; next !== undefined; next = this.toSave) {
        this.toSave = undefined;
        await checkpoints.save(partition, next).catch((error: unknown) => {
          report?.(`partition ${partition}: checkpoint ${next} not saved (${(error as Error).message})`);
        });
      }
      this.saving = false;
    })();
  }

  /**
   * The store has no position for a partition that has a checkpoint: it lost the partition's
   * states (DESIGN §5). They are rebuilt from the audit as they were at the checkpoint (every
   * decision up to there is durable) and put back; the entries after it are decided again, to the
   * same decisions with the same ids, which the sinks drop.
   */
  private async restore(epoch: number, checkpoint: number): Promise<StepResult> {
    const { partition, store, report } = this.options;
    report?.(
      `partition ${partition}: the state store lost its states (checkpoint ${checkpoint}); rebuilding them from the audit`,
    );
    const states = await this.options.rebuild(partition, checkpoint);
    const outcome = await store.restore(partition, epoch, checkpoint, states);
    if (outcome !== 'committed') return { kind: 'fenced' };
    report?.(`partition ${partition}: ${states.size} users' states rebuilt at ${checkpoint}; going on`);
    this.applied = checkpoint;
    this.epoch = epoch;
    return { kind: 'restored' };
  }

  private decideAll(messages: readonly LogMessage[], states: Map<string, UserState | undefined>) {
    const { index, caps, capsVersion = 0 } = this.options.rules();
    const { partition, decide } = this.options;
    const decisions: PositionedDecision[] = [];
    const letters: DeadLetter[] = [];
    const changed = new Map<string, UserState>();
    let entries = 0;
    let repeats = 0;
    for (const message of messages) {
      const { seq } = message;
      for (const { index: line, line: text, problem } of message.malformed ?? [])
        letters.push({
          partition,
          seq,
          kind: 'malformed',
          index: line,
          at: message.stored_at ?? 0,
          problem,
          line: text,
        });
      message.entries.forEach((entry, position) => {
        entries++;
        const before = states.get(entry.user_id);
        const result = decideGuarded(before, entry, index, caps, decide);
        if (result.failure !== undefined) {
          const line = entryJson(entry).slice(0, DEAD_LETTER_LINE_CHARS);
          letters.push({
            partition,
            seq,
            kind: 'failed',
            index: position,
            at: entry.received_at,
            problem: result.failure,
            line,
          });
          return;
        }
        if (result.repeat) repeats++;
        for (const decision of result.decisions)
          decisions.push({ decision, partition, seq, caps_version: capsVersion });
        // decide hands back the very state it was given when nothing changed (as in Replayer).
        if (result.state !== (before ?? EMPTY_USER_STATE)) {
          states.set(entry.user_id, result.state);
          changed.set(entry.user_id, result.state);
        }
      });
    }
    return { decisions, changed, entries, repeats, letters };
  }
}
