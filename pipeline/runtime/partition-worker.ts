import type { CompiledCaps } from '../core/caps.ts';
import { decide } from '../core/decide.ts';
import type { RuleIndex } from '../core/rule-index.ts';
import type { UserState } from '../core/user-state.ts';
import { EMPTY_USER_STATE } from '../core/user-state.ts';
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
  /** The rules in force (the matcher swaps them when the message set changes). */
  readonly rules: () => Rules;
  readonly leaseMs: number;
  readonly batchSize: number;
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
      /** The batch's decisions, for the process's counts. */
      readonly batch: readonly PositionedDecision[];
    }
  | { readonly kind: 'idle' | 'not-owner' | 'fenced' };

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

  constructor(private readonly options: WorkerOptions) {}

  async step(): Promise<StepResult> {
    const { partition, holder, source, store, sink, leaseMs, batchSize } = this.options;
    const epoch = await store.acquire(partition, holder, leaseMs);
    if (epoch === undefined) {
      this.epoch = undefined;
      return { kind: 'not-owner' };
    }
    if (epoch !== this.epoch) {
      // A new tenure: someone else may have committed since, so start from the stored position.
      this.applied = (await store.load(partition, [])).applied;
      this.epoch = epoch;
    }
    const messages = await source.read(partition, this.applied, batchSize);
    const last = messages[messages.length - 1];
    if (last === undefined) return { kind: 'idle' };
    const users = [...new Set(messages.flatMap((m) => m.entries.map((e) => e.user_id)))];
    const loaded = await store.load(partition, users);
    const states = new Map<string, UserState | undefined>(users.map((user, i) => [user, loaded.states[i]]));
    const { decisions, changed, entries, repeats } = this.decideAll(messages, states);
    await sink.publish(decisions);
    const outcome = await store.commit(partition, epoch, last.seq, changed);
    if (outcome !== 'committed') {
      // The lease moved on (or this batch was committed already): the next tenure starts afresh.
      this.epoch = undefined;
      return { kind: 'fenced' };
    }
    this.applied = last.seq;
    return {
      kind: 'decided',
      messages: messages.length,
      entries,
      decisions: decisions.length,
      repeats,
      batch: decisions,
    };
  }

  private decideAll(messages: readonly LogMessage[], states: Map<string, UserState | undefined>) {
    const { index, caps, capsVersion = 0 } = this.options.rules();
    const decisions: PositionedDecision[] = [];
    const changed = new Map<string, UserState>();
    let entries = 0;
    let repeats = 0;
    for (const message of messages) {
      for (const entry of message.entries) {
        entries++;
        const before = states.get(entry.user_id);
        const result = decide(before, entry, index, caps);
        if (result.repeat) repeats++;
        for (const decision of result.decisions)
          decisions.push({
            decision,
            partition: this.options.partition,
            seq: message.seq,
            caps_version: capsVersion,
          });
        // decide hands back the very state it was given when nothing changed (as in Replayer).
        if (result.state !== (before ?? EMPTY_USER_STATE)) {
          states.set(entry.user_id, result.state);
          changed.set(entry.user_id, result.state);
        }
      }
    }
    return { decisions, changed, entries, repeats };
  }
}
