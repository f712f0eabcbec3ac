import type { CapBlocked } from './caps.ts';
import type { ConditionFailure } from './condition.ts';
import type { Channel } from './message-schema.ts';
import type { ScheduleClosed } from './schedule.ts';

export const OUTCOMES = ['sent', 'suppressed', 'filtered'] as const;
export type Outcome = (typeof OUTCOMES)[number];
/** In the order the checks run (DESIGN §4): the first that fails gives the reason. */
export const REASONS = [
  'event_filter',
  'audience',
  'unsubscribed',
  'unreachable',
  'schedule',
  'max_sends',
  'min_interval',
  'global_cap',
] as const;
export type Reason = (typeof REASONS)[number];

export type Content = { readonly subject: string | null; readonly body: string };

type DecisionBase = {
  /** Deterministic: the same entry and message always give the same id (`<message_id>:<entry_id>`). */
  readonly decision_id: string;
  readonly entry_id: string;
  readonly message_id: string;
  readonly message_version: number;
  readonly user_id: string;
  readonly channel: Channel;
  /** The entry's `received_at`: the only time a decision knows. */
  readonly at: number;
};

/** What was decided and why, with a structured explanation (see `explain.ts` for the sentence). */
/**
 * On a limit's explanation when the entry came outside its schedule and was checked for the
 * window's next opening (`schedule.outside: "defer"`): that time. Absent otherwise.
 */
type Deferred = { readonly deferred_to?: number };

export type Verdict =
  | {
      readonly outcome: 'sent';
      readonly reason: null;
      readonly content: Content;
      readonly explanation: null;
      /**
       * When the send is delivered, for an entry that came outside its schedule and is held for the
       * window's next opening (`schedule.outside: "defer"`); absent (read as null) on a send made
       * at once and on every other decision, so those are written as before.
       */
      readonly deliver_at?: number;
    }
  | {
      readonly outcome: 'filtered';
      readonly reason: 'event_filter' | 'audience';
      readonly content: null;
      /** The failed condition itself: the leaf with the value seen, or every branch of an `any`. */
      readonly explanation: ConditionFailure;
    }
  | {
      readonly outcome: 'suppressed';
      readonly reason: 'unsubscribed';
      readonly content: null;
      /** The user opted out of this message, or of its channel (a transactional message ignores that). */
      readonly explanation:
        | { readonly opted_out_of: 'message'; readonly message_id: string }
        | { readonly opted_out_of: 'channel'; readonly channel: Channel };
    }
  | {
      readonly outcome: 'suppressed';
      readonly reason: 'unreachable';
      readonly content: null;
      /** The channel, and what the user's state lacks to reach them on it (`user.email`, `user.phone`, `a push subscription`). */
      readonly explanation: { readonly channel: Channel; readonly needs: string };
    }
  | {
      readonly outcome: 'suppressed';
      readonly reason: 'schedule';
      readonly content: null;
      readonly explanation: ScheduleClosed;
    }
  | {
      readonly outcome: 'suppressed';
      readonly reason: 'max_sends';
      readonly content: null;
      readonly explanation: { readonly sends: number; readonly max_sends: number } & Deferred;
    }
  | {
      readonly outcome: 'suppressed';
      readonly reason: 'min_interval';
      readonly content: null;
      /** `last_sent_at`: the message's latest send to the user, which may be one held for later. */
      readonly explanation: {
        readonly last_sent_at: number;
        readonly min_interval: number;
        readonly eligible_at: number;
      } & Deferred;
    }
  | {
      readonly outcome: 'suppressed';
      readonly reason: 'global_cap';
      readonly content: null;
      readonly explanation: CapBlocked & Deferred;
    };

/**
 * One decision per (log entry, candidate message). Every decision has every field (`content` and
 * `explanation` null where they do not apply), so all decisions share one shape.
 */
export type Decision = DecisionBase & Verdict;

export const decisionId = (messageId: string, entryId: string): string => `${messageId}:${entryId}`;
