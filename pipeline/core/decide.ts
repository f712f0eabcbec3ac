import type { CompiledCaps } from './caps.ts';
import { checkCaps } from './caps.ts';
import type { Decision, Verdict } from './decision.ts';
import { decisionId } from './decision.ts';
import type { Facts } from './facts.ts';
import type { LogEntry, TrackEntry } from './log-entry.ts';
import { usableMetadata } from './log-entry.ts';
import type { CompiledMessage, RuleIndex } from './rule-index.ts';
import type { UserState } from './user-state.ts';
import { applyAttributes, applySend, EMPTY_USER_STATE } from './user-state.ts';

export type DecideResult = { readonly state: UserState; readonly decisions: readonly Decision[] };

const NO_DECISIONS: readonly Decision[] = Object.freeze([]);

/**
 * The decision core (DESIGN §4): a pure function of one user's state, one log entry of that user,
 * the live rule index and the global caps. The only time it knows is `entry.received_at`; it never
 * mutates its inputs, and the same inputs always give the same output.
 */
export function decide(
  state: UserState | undefined,
  entry: LogEntry,
  index: RuleIndex,
  caps: CompiledCaps,
): DecideResult {
  const current = state ?? EMPTY_USER_STATE;
  if (entry.type === 'identify')
    return { state: applyAttributes(current, entry.attributes), decisions: NO_DECISIONS };
  const candidates = index.byEvent.get(entry.name);
  if (candidates === undefined) return { state: current, decisions: NO_DECISIONS };
  let next = current;
  let facts: Facts | undefined;
  const decisions: Decision[] = [];
  for (const message of candidates) {
    if (entry.received_at < message.live_since) continue;
    facts ??= {
      name: entry.name,
      metadata: usableMetadata(entry.metadata),
      context: entry.context,
      user: current.attributes,
    };
    const verdict = judge(next, entry.received_at, message, facts, caps);
    decisions.push({
      decision_id: decisionId(message.id, entry.id),
      entry_id: entry.id,
      message_id: message.id,
      message_version: message.version,
      user_id: entry.user_id,
      channel: message.channel,
      at: entry.received_at,
      ...verdict,
    });
    if (verdict.outcome === 'sent') next = recordSend(next, message, entry, caps);
  }
  return { state: next, decisions };
}

function recordSend(
  state: UserState,
  message: CompiledMessage,
  entry: TrackEntry,
  caps: CompiledCaps,
): UserState {
  const send = {
    message_id: message.id,
    channel: message.channel,
    at: entry.received_at,
    counts_toward_caps: message.counts_toward_caps,
  };
  return applySend(state, send, message.sendsIn(state.messages), caps);
}

/** The checks of DESIGN §4, in order: the first that fails gives the outcome and reason. */
function judge(
  state: UserState,
  at: number,
  message: CompiledMessage,
  facts: Facts,
  caps: CompiledCaps,
): Verdict {
  const filterFailure = message.where(facts);
  if (filterFailure !== undefined)
    return { outcome: 'filtered', reason: 'event_filter', explanation: { failed: filterFailure } };
  const audienceFailure = message.audience(facts);
  if (audienceFailure !== undefined)
    return { outcome: 'filtered', reason: 'audience', explanation: { failed: audienceFailure } };
  const closed = message.schedule(at);
  if (closed !== undefined) return { outcome: 'suppressed', reason: 'schedule', explanation: closed };
  const sends = message.sendsIn(state.messages);
  if (sends !== undefined) {
    if (message.max_sends !== null && sends.count >= message.max_sends) {
      return {
        outcome: 'suppressed',
        reason: 'max_sends',
        explanation: { sends: sends.count, max_sends: message.max_sends },
      };
    }
    if (message.min_interval > 0 && at - sends.last_at < message.min_interval) {
      const explanation = {
        last_sent_at: sends.last_at,
        min_interval: message.min_interval,
        eligible_at: sends.last_at + message.min_interval,
      };
      return { outcome: 'suppressed', reason: 'min_interval', explanation };
    }
  } else if (message.max_sends === 0) {
    return { outcome: 'suppressed', reason: 'max_sends', explanation: { sends: 0, max_sends: 0 } };
  }
  if (message.counts_toward_caps) {
    const blocked = checkCaps(caps, message.channel, state.recent, at);
    if (blocked !== undefined) return { outcome: 'suppressed', reason: 'global_cap', explanation: blocked };
  }
  const content = {
    subject: message.subject === null ? null : message.subject(facts),
    body: message.body(facts),
  };
  return { outcome: 'sent', reason: null, content, explanation: null };
}
