import type { Hash } from 'node:crypto';
import { createHash } from 'node:crypto';
import type { Decision, Outcome } from '../core/decision.ts';
import { explain } from '../core/explain.ts';
import type { LogEntry } from '../core/log-entry.ts';
import type { RecordedDecision, ScopedUsers } from '../ports/recorded-log.ts';
import { ReplayLineFormatter } from './replay-line.ts';

/** Decisions of one message, by outcome, and by reason for the suppressed and filtered ones; users sent it. */
export type OutcomeCounts = {
  sent: number;
  suppressed: Record<string, number>;
  filtered: Record<string, number>;
  users_reached: number;
};

type Tally = { counts: OutcomeCounts; reached: Set<string> };

/** One decision as either side (recorded, replayed) has it. */
export type DecisionSide = {
  readonly outcome: Outcome;
  readonly reason: string | null;
  readonly message_version: number;
  readonly subject: string | null;
  readonly body: string | null;
  readonly explanation: string;
};

/** An entry and message whose decision is not the same on both sides (absent: null). */
export type DecisionChange = {
  readonly entry_id: string;
  readonly user_id: string;
  readonly at: number;
  readonly message_id: string;
  readonly recorded: DecisionSide | null;
  readonly replayed: DecisionSide | null;
};

/** What a replay found, against what was recorded (DESIGN §7, issue #5). */
export type ReplayReport = {
  readonly from: number;
  readonly to: number;
  readonly entries: number;
  readonly decisions: number;
  /** Every decision equal to the recorded one, field by field (message version and explanation included). */
  readonly identical: boolean;
  readonly differences: number;
  readonly first_differences: readonly DecisionChange[];
  /** Per message, recorded (before) and replayed (after). */
  readonly messages: readonly { message_id: string; before: OutcomeCounts; after: OutcomeCounts }[];
  /** Users with at least one decision whose outcome changed. */
  readonly users_affected: number;
  /** Users sent at least one message, recorded and replayed. */
  readonly users_reached: { readonly before: number; readonly after: number };
  /** Decisions whose outcome changed (`sent→suppressed`, `suppressed→sent`, `none→sent`…). */
  readonly flips: {
    readonly total: number;
    readonly kinds: Record<string, number>;
    readonly first: readonly DecisionChange[];
  };
  /** SHA-256 of the replayed decisions as replay lines, in order: the same log and messages, the same hash. */
  readonly hash: string;
  /**
   * Present only when the replay was narrowed to the users an override can affect: the events
   * that chose them, how many, and the window's entries of everyone. Every count above is then of
   * those users; the changes (flips, users affected, an overridden message's decisions) are the
   * same as replaying everyone.
   */
  readonly scope?: ScopedUsers;
};

const FIRST = 20;
const FIRST_FLIPS = 100;

const emptyTally = (): Tally => ({
  counts: { sent: 0, suppressed: {}, filtered: {}, users_reached: 0 },
  reached: new Set(),
});

function count(tally: Tally, user: string, outcome: Outcome, reason: string | null): void {
  const { counts } = tally;
  if (outcome === 'sent') {
    counts.sent++;
    tally.reached.add(user);
  } else counts[outcome][reason ?? ''] = (counts[outcome][reason ?? ''] ?? 0) + 1;
}

const countsOf = (tally: Tally): OutcomeCounts => ({ ...tally.counts, users_reached: tally.reached.size });

const replayedSide = (decision: Decision): DecisionSide => ({
  outcome: decision.outcome,
  reason: decision.reason,
  message_version: decision.message_version,
  subject: decision.content?.subject ?? null,
  body: decision.content?.body ?? null,
  explanation: explain(decision),
});

const recordedSide = (decision: RecordedDecision): DecisionSide => ({
  outcome: decision.outcome,
  reason: decision.reason,
  message_version: decision.message_version,
  subject: decision.subject,
  body: decision.body,
  explanation: decision.explanation,
});

const same = (a: DecisionSide, b: DecisionSide) =>
  a.outcome === b.outcome &&
  a.reason === b.reason &&
  a.message_version === b.message_version &&
  a.subject === b.subject &&
  a.body === b.body &&
  a.explanation === b.explanation;

/**
 * What a builder counted over some of a window's partitions, to be merged with the others'
 * (`mergeReportParts`): structured-cloneable, so a thread can hand it over. A user's entries are
 * all in one partition, so the users counted by parts of different partitions add up.
 */
export type ReportPart = {
  readonly entries: number;
  readonly decisions: number;
  readonly differences: number;
  readonly firstDifferences: readonly DecisionChange[];
  readonly perMessage: readonly (readonly [string, { before: OutcomeCounts; after: OutcomeCounts }])[];
  readonly affected: number;
  readonly reachedBefore: number;
  readonly reachedAfter: number;
  readonly flips: number;
  readonly kinds: Readonly<Record<string, number>>;
  readonly firstFlips: readonly DecisionChange[];
};

/** Where a builder's replay lines go: the hash of the decisions (a `Hash` is one). */
export type LineDigest = { update(text: string): unknown };

/** Compares a replay with the record entry by entry, as it goes, keeping only counts and the first changes. */
export class ReplayReportBuilder {
  private entries = 0;
  private decisions = 0;
  private differences = 0;
  private readonly firstDifferences: DecisionChange[] = [];
  private readonly perMessage = new Map<string, { before: Tally; after: Tally }>();
  private readonly affected = new Set<string>();
  private readonly reachedBefore = new Set<string>();
  private readonly reachedAfter = new Set<string>();
  private flips = 0;
  private readonly kinds: Record<string, number> = {};
  private readonly firstFlips: DecisionChange[] = [];
  private readonly formatter = new ReplayLineFormatter();
  /** The hash of the replay lines, when they are not sent elsewhere. */
  private readonly hash: Hash | undefined;
  private readonly digest: LineDigest;

  constructor(
    private readonly from: number,
    private readonly to: number,
    private readonly scope?: ScopedUsers,
    /** Where the replay lines go, in order, instead of the report's own hash (a thread's to the one that merges). */
    lines?: LineDigest,
  ) {
    this.hash = lines === undefined ? createHash('sha256') : undefined;
    this.digest = lines ?? (this.hash as Hash);
  }

  add(entry: LogEntry, recorded: readonly RecordedDecision[], replayed: readonly Decision[]): void {
    this.entries++;
    this.decisions += replayed.length;
    for (const decision of replayed) this.digest.update(`${this.formatter.format(decision)}\n`);
    const sides = new Map<string, { recorded: DecisionSide | null; replayed: DecisionSide | null }>();
    for (const decision of recorded) {
      sides.set(decision.message_id, { recorded: recordedSide(decision), replayed: null });
      count(this.countsOf(decision.message_id).before, entry.user_id, decision.outcome, decision.reason);
      if (decision.outcome === 'sent') this.reachedBefore.add(entry.user_id);
    }
    for (const decision of replayed) {
      const pair = sides.get(decision.message_id) ?? { recorded: null, replayed: null };
      pair.replayed = replayedSide(decision);
      sides.set(decision.message_id, pair);
      count(this.countsOf(decision.message_id).after, entry.user_id, decision.outcome, decision.reason);
      if (decision.outcome === 'sent') this.reachedAfter.add(entry.user_id);
    }
    for (const [message_id, pair] of sides) {
      if (pair.recorded !== null && pair.replayed !== null && same(pair.recorded, pair.replayed)) continue;
      const change = {
        entry_id: entry.id,
        user_id: entry.user_id,
        at: entry.received_at,
        message_id,
        ...pair,
      };
      this.differences++;
      if (this.firstDifferences.length < FIRST) this.firstDifferences.push(change);
      const before = pair.recorded?.outcome ?? 'none';
      const after = pair.replayed?.outcome ?? 'none';
      if (before === after) continue;
      this.flips++;
      this.affected.add(entry.user_id);
      const kind = `${before}→${after}`;
      this.kinds[kind] = (this.kinds[kind] ?? 0) + 1;
      if (this.firstFlips.length < FIRST_FLIPS) this.firstFlips.push(change);
    }
  }

  /** The counts so far, for `mergeReportParts`. */
  part(): ReportPart {
    return {
      entries: this.entries,
      decisions: this.decisions,
      differences: this.differences,
      firstDifferences: this.firstDifferences,
      perMessage: [...this.perMessage].map(([id, { before, after }]) => [
        id,
        { before: countsOf(before), after: countsOf(after) },
      ]),
      affected: this.affected.size,
      reachedBefore: this.reachedBefore.size,
      reachedAfter: this.reachedAfter.size,
      flips: this.flips,
      kinds: this.kinds,
      firstFlips: this.firstFlips,
    };
  }

  /** The report, when the lines went to the report's own hash. */
  report(): ReplayReport {
    if (this.hash === undefined)
      throw new Error('the replay lines went elsewhere: merge the parts with their hash');
    return mergeReportParts(this.from, this.to, this.scope, this.hash.copy().digest('hex'), [this.part()]);
  }

  private countsOf(messageId: string) {
    let counts = this.perMessage.get(messageId);
    if (counts === undefined) {
      counts = { before: emptyTally(), after: emptyTally() };
      this.perMessage.set(messageId, counts);
    }
    return counts;
  }
}

/**
 * The report of a window from the parts of its partitions, in partition order (the first
 * differences and flips are the first in log order), and the hash of all their lines in that order.
 */
export function mergeReportParts(
  from: number,
  to: number,
  scope: ScopedUsers | undefined,
  hash: string,
  parts: readonly ReportPart[],
): ReplayReport {
  const sum = (of: (part: ReportPart) => number) => parts.reduce((n, part) => n + of(part), 0);
  const messages = new Map<string, { before: OutcomeCounts; after: OutcomeCounts }>();
  let kinds: Record<string, number> = {};
  for (const part of parts) {
    for (const [id, counts] of part.perMessage) {
      const merged = messages.get(id);
      messages.set(
        id,
        merged === undefined
          ? counts
          : { before: addCounts(merged.before, counts.before), after: addCounts(merged.after, counts.after) },
      );
    }
    kinds = addTallies(kinds, part.kinds);
  }
  const differences = sum((p) => p.differences);
  return {
    from,
    to,
    entries: sum((p) => p.entries),
    decisions: sum((p) => p.decisions),
    identical: differences === 0,
    differences,
    first_differences: parts.flatMap((p) => p.firstDifferences).slice(0, FIRST),
    messages: [...messages]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([message_id, { before, after }]) => ({ message_id, before, after })),
    users_affected: sum((p) => p.affected),
    users_reached: { before: sum((p) => p.reachedBefore), after: sum((p) => p.reachedAfter) },
    flips: {
      total: sum((p) => p.flips),
      kinds,
      first: parts.flatMap((p) => p.firstFlips).slice(0, FIRST_FLIPS),
    },
    hash,
    ...(scope === undefined ? {} : { scope }),
  };
}

/** Counts by key (reasons, kinds of flip), added. */
const addTallies = (
  a: Record<string, number>,
  b: Readonly<Record<string, number>>,
): Record<string, number> => {
  const sum = { ...a };
  for (const [reason, n] of Object.entries(b)) sum[reason] = (sum[reason] ?? 0) + n;
  return sum;
};

const addCounts = (a: OutcomeCounts, b: OutcomeCounts): OutcomeCounts => ({
  sent: a.sent + b.sent,
  suppressed: addTallies(a.suppressed, b.suppressed),
  filtered: addTallies(a.filtered, b.filtered),
  users_reached: a.users_reached + b.users_reached,
});
