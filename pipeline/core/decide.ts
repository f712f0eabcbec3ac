import { isRepeat, recordApplied } from './applied-entries.ts';
import type { CompiledCaps } from './caps.ts';
import type { Content, Decision, Verdict } from './decision.ts';
import { decisionId } from './decision.ts';
import type { Facts } from './facts.ts';
import type { LogEntry, TrackEntry } from './log-entry.ts';
import { usableMetadata } from './log-entry.ts';
import { reachBlocked } from './reach.ts';
import type { CompiledMessage, RuleIndex } from './rule-index.ts';
import type { SentMessage, UserState } from './user-state.ts';
import { applySends, applyStateEntry, EMPTY_USER_STATE, withRecent } from './user-state.ts';
import { limitBlocked } from './limits.ts';

export type DecideResult = {
  readonly state: UserState;
  readonly decisions: readonly Decision[];
  /** The entry repeats one that already had an effect for this user (DESIGN §2): it was dropped. */
  readonly repeat: boolean;
};

const NO_DECISIONS: readonly Decision[] = Object.freeze([]);

/**
 * The decision core (DESIGN §4): a pure function of one user's state, one log entry of that user,
 * the live rule index and the global caps. The only time it knows is `entry.received_at`; it never
 * mutates its inputs, and the same inputs always give the same output. When nothing changes, the
 * state given is the state returned. An entry with an effect (decisions, or attributes) is
 * recorded in the state, and an entry repeating one recorded is dropped: no decisions, no change.
 * An entry no live message triggers has no effect, leaves no record and costs no state write; a
 * repeat of it is decided afresh, as it would be the first time.
 */
export function decide(
  state: UserState | undefined,
  entry: LogEntry,
  index: RuleIndex,
  caps: CompiledCaps,
): DecideResult {
  const current = state ?? EMPTY_USER_STATE;
  const at = entry.received_at;
  if (isRepeat(current.applied, entry.id, at))
    return { state: current, decisions: NO_DECISIONS, repeat: true };
  if (entry.type !== 'track') {
    const changed = applyStateEntry(current, entry);
    return { state: withApplied(changed, entry.id, at), decisions: NO_DECISIONS, repeat: false };
  }
  const candidates = index.byEvent.get(entry.name);
  if (candidates === undefined) return { state: current, decisions: NO_DECISIONS, repeat: false };
  let facts: Facts | undefined;
  // Sends made for earlier candidates of this entry count toward the caps of later ones.
  let recent = current.recent;
  const sent: SentMessage[] = [];
  const decisions: Decision[] = [];
  for (const message of candidates) {
    if (at < message.live_since) continue;
    facts ??= {
      name: entry.name,
      metadata: usableMetadata(entry.metadata),
      context: entry.context,
      user: current.attributes,
    };
    const decision = judge(entry, message, facts, current, recent, caps);
    decisions.push(decision);
    if (decision.outcome !== 'sent') continue;
    const deliverAt = decision.deliver_at ?? at;
    sent.push({ id: message.id, at: deliverAt });
    if (message.counts_toward_caps) recent = withRecent(recent, deliverAt, message.channel);
  }
  if (decisions.length === 0) return { state: current, decisions: NO_DECISIONS, repeat: false };
  const after = withApplied(applySends(current, at, sent, recent, caps), entry.id, at);
  return { state: after, decisions, repeat: false };
}

const withApplied = (state: UserState, id: string, at: number): UserState => ({
  attributes: state.attributes,
  sends: state.sends,
  recent: state.recent,
  applied: recordApplied(state.applied, id, at),
  optouts: state.optouts,
  push: state.push,
});

/** The checks of DESIGN §4, in order: the first that fails gives the outcome and reason. */
function judge(
  entry: TrackEntry,
  message: CompiledMessage,
  facts: Facts,
  state: UserState,
  recent: UserState['recent'],
  caps: CompiledCaps,
): Decision {
  const at = entry.received_at;
  const filterFailure = message.where(facts);
  if (filterFailure !== undefined)
    return decisionOf(entry, message, 'filtered', 'event_filter', null, filterFailure);
  const audienceFailure = message.audience(facts);
  if (audienceFailure !== undefined)
    return decisionOf(entry, message, 'filtered', 'audience', null, audienceFailure);
  const unreached = reachBlocked(message, state);
  if (unreached !== undefined)
    return decisionOf(entry, message, unreached.outcome, unreached.reason, null, unreached.explanation);
  const closed = message.schedule(at, facts.user);
  let deliverAt: number | undefined;
  if (closed !== undefined) {
    const held = message.defer_max;
    if (held === null) return decisionOf(entry, message, 'suppressed', 'schedule', null, closed);
    if (closed.opens_at === null || closed.opens_at > at + held)
      return decisionOf(entry, message, 'suppressed', 'schedule', null, { ...closed, defer_max: held });
    deliverAt = closed.opens_at;
  }
  // Held for the window's opening, the send is judged by the limits as they will be then.
  const limited = limitBlocked(message, state.sends, recent, caps, deliverAt ?? at, deliverAt);
  if (limited !== undefined)
    return decisionOf(entry, message, limited.outcome, limited.reason, null, limited.explanation);
  const content = {
    subject: message.subject === null ? null : message.subject(facts),
    body: message.body(facts),
  };
  if (deliverAt !== undefined) return heldSend(entry, message, content, deliverAt);
  return decisionOf(entry, message, 'sent', null, content, null);
}

/**
 * Built field by field in one place: every decision gets the same hidden class (this is the hot
 * path). Callers pass the four fields of one `Verdict`, so the union holds.
 */
function decisionOf(
  entry: TrackEntry,
  message: CompiledMessage,
  outcome: Verdict['outcome'],
  reason: Verdict['reason'],
  content: Verdict['content'],
  explanation: Verdict['explanation'],
): Decision {
  return {
    decision_id: decisionId(message.id, entry.id),
    entry_id: entry.id,
    message_id: message.id,
    message_version: message.version,
    user_id: entry.user_id,
    channel: message.channel,
    at: entry.received_at,
    outcome,
    reason,
    content,
    explanation,
  } as Decision;
}

/** A send held for its schedule: the one decision with `deliver_at`, after `at`, where its place is in the audit's columns. */
function heldSend(
  entry: TrackEntry,
  message: CompiledMessage,
  content: Content,
  deliverAt: number,
): Decision {
  return {
    decision_id: decisionId(message.id, entry.id),
    entry_id: entry.id,
    message_id: message.id,
    message_version: message.version,
    user_id: entry.user_id,
    channel: message.channel,
    at: entry.received_at,
    deliver_at: deliverAt,
    outcome: 'sent',
    reason: null,
    content,
    explanation: null,
  };
}
