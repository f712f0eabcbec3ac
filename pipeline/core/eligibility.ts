import type { CompiledCaps } from './caps.ts';
import type { Decision, Verdict } from './decision.ts';
import { explain } from './explain.ts';
import type { Message } from './message-schema.ts';
import type { CompiledMessage } from './rule-index.ts';
import { compileMessage } from './rule-index.ts';
import { reachBlocked } from './reach.ts';
import type { UserState } from './user-state.ts';
import { EMPTY_USER_STATE } from './user-state.ts';
import { limitBlocked } from './limits.ts';

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
      /**
       * The check that holds the user back at `at` (the one `decide` would name); when
       * `eligible_at` is null, the check that holds them back for good.
       */
      readonly reason: 'not_live' | Blocked['reason'];
      readonly details: unknown;
      /**
       * The earliest time from `at` at which every check passes together (the schedule in the
       * user's zone, `max_sends`, `min_interval`, every cap's windows, sends held for later
       * counted): an entry then is sent at once, one a millisecond before it is not. Null when no
       * time will do, or not by time alone.
       */
      readonly eligible_at: number | null;
      readonly explanation: string;
    };

/** Enough steps for any state: each one passes a send, a window opening or a limit's end. */
const MAX_STEPS = 10_000;

/**
 * "Can this user get this message now, and if not, why and from when?" (issue #4, made exact in
 * #18): the checks of DESIGN §4 that do not depend on the triggering entry (the event filter
 * does), in the same order and with the same explanations as `decide`, and the first time they
 * all pass together, found by moving to the end of whatever blocks until nothing does (each move
 * skips only times that check forbids). `compiled` is the message compiled, when the caller keeps
 * it compiled per version (the API does).
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
  const now = blocked(compiled, current, caps, at);
  if (now === undefined)
    return {
      eligible: true,
      at,
      message_version: version,
      explanation: 'eligible: every check that does not depend on the event passes',
    };
  const next = firstEligible(compiled, current, caps, at, now);
  const shown = next.at === null ? next.verdict : now;
  const sentence = (verdict: Blocked) => explain(asDecision(message, userId, at, verdict));
  const explanation =
    next.at === null
      ? shown === now
        ? sentence(now)
        : `${sentence(now)}; and then ${sentence(shown)}`
      : next.at === timeAlone(now)
        ? sentence(now)
        : `${sentence(now)}; with every check, first eligible at ${new Date(next.at).toISOString()}`;
  return {
    eligible: false,
    at,
    message_version: version,
    reason: shown.reason,
    details: shown.explanation,
    eligible_at: next.at,
    explanation,
  };
}

/** The earliest time from `at` when nothing blocks, moving past each block in turn; null with the block that never ends. */
function firstEligible(
  message: CompiledMessage,
  state: UserState,
  caps: CompiledCaps,
  at: number,
  first: Blocked,
): { readonly at: number | null; readonly verdict: Blocked } {
  let verdict: Blocked | undefined = first;
  let time = at;
  for (let step = 0; step < MAX_STEPS && verdict !== undefined; step++) {
    const later = timeAlone(verdict);
    if (later === null) return { at: null, verdict };
    time = later;
    verdict = blocked(message, state, caps, time);
  }
  return verdict === undefined ? { at: time, verdict: first } : { at: null, verdict };
}

function asDecision(message: Message, userId: string, at: number, verdict: Blocked): Decision {
  return {
    decision_id: '',
    entry_id: '',
    message_id: message.id,
    message_version: message.version,
    user_id: userId,
    channel: message.channel,
    at,
    ...verdict,
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
  return limitBlocked(message, state.sends, state.recent, caps, at);
}

/** When the check that failed lets the user through, by itself (null: never, or not by time alone). */
function timeAlone(verdict: Blocked): number | null {
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

/** The answer as the API (`GET /v1/users/:id/eligibility`) and `nudge eligibility` both print it. */
export type EligibilityReport = {
  readonly user_id: string;
  readonly message_id: string;
  readonly message_version: number;
  readonly at: number;
  readonly eligible: boolean;
  readonly reason: Exclude<Eligibility, { eligible: true }>['reason'] | null;
  readonly eligible_at: number | null;
  readonly explanation: string;
  readonly details: unknown;
};

export function eligibilityReport(userId: string, messageId: string, answer: Eligibility): EligibilityReport {
  return {
    user_id: userId,
    message_id: messageId,
    message_version: answer.message_version,
    at: answer.at,
    eligible: answer.eligible,
    reason: answer.eligible ? null : answer.reason,
    eligible_at: answer.eligible ? answer.at : answer.eligible_at,
    explanation: answer.explanation,
    details: answer.eligible ? null : answer.details,
  };
}
