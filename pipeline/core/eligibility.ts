import type { CompiledCaps } from './caps.ts';
import { checkCaps } from './caps.ts';
import type { Decision, Verdict } from './decision.ts';
import { explain } from './explain.ts';
import type { Message } from './message-schema.ts';
import type { CompiledMessage } from './rule-index.ts';
import { compileMessage } from './rule-index.ts';
import { reachBlocked } from './reach.ts';
import type { UserState } from './user-state.ts';
import { EMPTY_USER_STATE, findSends, lastSentAt, sendCount } from './user-state.ts';

/** What holds a user back: a verdict other than a send (never `event_filter`: no entry is judged here). */
type Blocked = Exclude<Verdict, { outcome: 'sent' }>;

/** Whether a user could get a message at `at`, if its trigger event came then and passed its filter. */
export type Eligibility =
  | {
      readonly eligible: true;
      readonly at: number;
      readonly message_version: number;
      readonly explanation: string;
    }
  | {
      readonly eligible: false;
      readonly at: number;
      readonly message_version: number;
      readonly reason: 'not_live' | Blocked['reason'];
      readonly details: unknown;
      /** When the check that failed lets the user through (null: never, or not by time alone). */
      readonly eligible_at: number | null;
      readonly explanation: string;
    };

/**
 * "Can this user get this message now, and if not, why and from when?" (issue #4): the checks of
 * DESIGN §4 that do not depend on the triggering entry (the event filter does), in the same order
 * and with the same explanations as `decide`. The first check that fails answers; a later one may
 * still hold the user back at `eligible_at`. `compiled` is the message compiled, when the caller
 * keeps it compiled per version (the API does).
 */
export function eligibility(
  state: UserState | undefined,
  message: Message,
  caps: CompiledCaps,
  userId: string,
  at: number,
  compiled: CompiledMessage = compileMessage(message),
): Eligibility {
  const version = message.version;
  if (message.state !== 'live' || at < (message.live_since ?? 0)) {
    const later = message.state === 'live' ? (message.live_since ?? null) : null;
    return {
      eligible: false,
      at,
      message_version: version,
      reason: 'not_live',
      details: { state: message.state, live_since: message.live_since ?? null },
      eligible_at: later,
      explanation:
        later === null
          ? `the message is ${message.state}: it sends nothing until it is launched`
          : `the message goes live at ${new Date(later).toISOString()}`,
    };
  }
  const current = state ?? EMPTY_USER_STATE;
  const verdict = blocked(compiled, current, caps, at);
  if (verdict === undefined)
    return {
      eligible: true,
      at,
      message_version: version,
      explanation: 'eligible: every check that does not depend on the event passes',
    };
  const decision = {
    decision_id: '',
    entry_id: '',
    message_id: message.id,
    message_version: version,
    user_id: userId,
    channel: message.channel,
    at,
    ...verdict,
  } as Decision;
  return {
    eligible: false,
    at,
    message_version: version,
    reason: verdict.reason,
    details: verdict.explanation,
    eligible_at: eligibleAt(verdict),
    explanation: explain(decision),
  };
}

function blocked(
  message: CompiledMessage,
  state: UserState,
  caps: CompiledCaps,
  at: number,
): Blocked | undefined {
  const audience = message.audience({
    name: '',
    metadata: undefined,
    context: undefined,
    user: state.attributes,
  });
  if (audience !== undefined)
    return { outcome: 'filtered', reason: 'audience', content: null, explanation: audience };
  const unreached = reachBlocked(message, state);
  if (unreached !== undefined) return unreached;
  const closed = message.schedule(at, state.attributes);
  if (closed !== undefined)
    return { outcome: 'suppressed', reason: 'schedule', content: null, explanation: closed };
  const slot = findSends(state.sends, message.id);
  const count = sendCount(state.sends, slot);
  if (message.max_sends !== null && count >= message.max_sends)
    return {
      outcome: 'suppressed',
      reason: 'max_sends',
      content: null,
      explanation: { sends: count, max_sends: message.max_sends },
    };
  if (slot >= 0 && message.min_interval > 0 && at - lastSentAt(state.sends, slot) < message.min_interval) {
    const last_sent_at = lastSentAt(state.sends, slot);
    return {
      outcome: 'suppressed',
      reason: 'min_interval',
      content: null,
      explanation: {
        last_sent_at,
        min_interval: message.min_interval,
        eligible_at: last_sent_at + message.min_interval,
      },
    };
  }
  if (message.counts_toward_caps) {
    const capped = checkCaps(caps, message.channel, state.recent, at);
    if (capped !== undefined)
      return { outcome: 'suppressed', reason: 'global_cap', content: null, explanation: capped };
  }
  return undefined;
}

function eligibleAt(verdict: Blocked): number | null {
  switch (verdict.reason) {
    case 'event_filter':
    case 'audience':
    case 'unsubscribed':
    case 'unreachable':
    case 'max_sends':
      return null;
    case 'schedule':
      return verdict.explanation.opens_at;
    case 'min_interval':
    case 'global_cap':
      return verdict.explanation.eligible_at;
  }
}
