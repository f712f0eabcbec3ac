import type { CompiledCaps } from '../core/caps.ts';
import { decideGuarded } from '../core/guarded-decide.ts';
import type { Decision, Outcome, Reason } from '../core/decision.ts';
import type { LogEntry } from '../core/log-entry.ts';
import type { RuleIndex } from '../core/rule-index.ts';
import type { UserState } from '../core/user-state.ts';
import { EMPTY_USER_STATE } from '../core/user-state.ts';

export type ReplaySummary = {
  entries: number;
  /** Entries dropped as repeats of an entry already applied for their user (DESIGN §2). */
  repeats: number;
  /** Entries the core threw on: skipped, as the live matcher dead-letters them. */
  failures: number;
  decisions: number;
  outcomes: Record<Outcome, number>;
  reasons: Record<Reason, number>;
};

/**
 * Decides a log in order with one fixed message set and caps, keeping each user's state in
 * memory: memory grows with the users who have state (a send or attributes), never with the log.
 */
export class Replayer {
  private readonly states = new Map<string, UserState>();
  readonly summary: ReplaySummary = {
    entries: 0,
    repeats: 0,
    failures: 0,
    decisions: 0,
    outcomes: { sent: 0, suppressed: 0, filtered: 0 },
    reasons: {
      event_filter: 0,
      audience: 0,
      unsubscribed: 0,
      unreachable: 0,
      schedule: 0,
      max_sends: 0,
      min_interval: 0,
      global_cap: 0,
    },
  };

  constructor(
    private readonly index: RuleIndex,
    private readonly caps: CompiledCaps,
  ) {}

  apply(entry: LogEntry): readonly Decision[] {
    const before = this.states.get(entry.user_id);
    const result = decideGuarded(before, entry, this.index, this.caps);
    this.summary.entries++;
    if (result.failure !== undefined) {
      this.summary.failures++;
      return [];
    }
    const { state, decisions, repeat } = result;
    // decide hands back the very state it was given when nothing changed: users whose entries
    // never had an effect keep no state.
    if (state !== (before ?? EMPTY_USER_STATE)) this.states.set(entry.user_id, state);
    if (repeat) this.summary.repeats++;
    this.summary.decisions += decisions.length;
    for (const decision of decisions) count(this.summary, decision);
    return decisions;
  }

  /** A user's state after what was applied (undefined: none). */
  stateOf(userId: string): UserState | undefined {
    return this.states.get(userId);
  }

  get users(): number {
    return this.states.size;
  }
}

/** A switch rather than `outcomes[decision.outcome]++`: one monomorphic store per field on the hot path. */
function count(summary: ReplaySummary, decision: Decision): void {
  const { outcomes, reasons } = summary;
  switch (decision.reason) {
    case null:
      outcomes.sent++;
      return;
    case 'event_filter':
      outcomes.filtered++;
      reasons.event_filter++;
      return;
    case 'audience':
      outcomes.filtered++;
      reasons.audience++;
      return;
    case 'unsubscribed':
      outcomes.suppressed++;
      reasons.unsubscribed++;
      return;
    case 'unreachable':
      outcomes.suppressed++;
      reasons.unreachable++;
      return;
    case 'schedule':
      outcomes.suppressed++;
      reasons.schedule++;
      return;
    case 'max_sends':
      outcomes.suppressed++;
      reasons.max_sends++;
      return;
    case 'min_interval':
      outcomes.suppressed++;
      reasons.min_interval++;
      return;
    case 'global_cap':
      outcomes.suppressed++;
      reasons.global_cap++;
      return;
    default: {
      // A reason added to the core and not counted here fails the type check.
      const unknown: never = decision;
      return unknown;
    }
  }
}
