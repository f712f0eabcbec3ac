import type { AppliedEntries } from './applied-entries.ts';
import { isRepeat, recordApplied, REPEAT_WINDOW_MS } from './applied-entries.ts';
import type { Channel } from './message-schema.ts';
import type { StateEntry } from './log-entry.ts';
import type { UserState } from './user-state.ts';
import { applyStateEntry, EMPTY_USER_STATE } from './user-state.ts';

/** An entry of the user's before the point, as the audit has it. */
export type HistoryEntry = {
  readonly id: string;
  readonly at: number;
  /** It had decisions (a `track` entry), or it changes the user's state (every other type). */
  readonly effect: boolean;
  /** The entry itself when it is an `identify`, `preferences` or `push_subscription`. */
  readonly change?: StateEntry | undefined;
};

/** What the audit recorded of one user before a point of the log, enough to rebuild their state there. */
export type UserHistory = {
  /** Sends per message: how many, and the last. */
  readonly sends: readonly {
    readonly message_id: string;
    readonly count: number;
    readonly last_at: number;
  }[];
  /** The sends that count toward the global caps, within the caps' longest window at least; any order. */
  readonly recent: readonly { readonly at: number; readonly channel: Channel }[];
  /**
   * In log order: every entry other than a `track`, and the `track` entries from a little over the repeat
   * window before the point (`REPEAT_WINDOW_MS` and its skew).
   */
  readonly entries: readonly HistoryEntry[];
};

/**
 * A user's state at a point of the log, rebuilt from the audit rather than replayed from the
 * beginning (STYLE: state is a fold over sends and identifies): the sends per message, the recent
 * sends in time order (more of them than the live state keeps is harmless: the caps count only
 * sends inside their windows), and the entries folded as `decide` folds them, so that a repeated
 * `identify` is not applied twice and a repeat of an entry before the point is still dropped after
 * it. An `identify` older than the tracks read is taken as a repeat when the same id was applied
 * within the window before it (all `decide` could have known of then, but for ids it had pushed
 * out past its hundred).
 */
export function rebuildState(history: UserHistory): UserState {
  let changed: UserState = EMPTY_USER_STATE;
  let applied: AppliedEntries = EMPTY_USER_STATE.applied;
  const identified = new Map<string, number>();
  for (const entry of history.entries) {
    if (!entry.effect) continue;
    const earlier = identified.get(entry.id);
    const repeat =
      isRepeat(applied, entry.id, entry.at) ||
      (earlier !== undefined && earlier > entry.at - REPEAT_WINDOW_MS);
    if (repeat) continue;
    if (entry.change !== undefined) {
      changed = applyStateEntry(changed, entry.change);
      identified.set(entry.id, entry.at);
    }
    applied = recordApplied(applied, entry.id, entry.at);
  }
  const sends = [...history.sends]
    .sort((a, b) => (a.message_id < b.message_id ? -1 : a.message_id > b.message_id ? 1 : 0))
    .flatMap((s) => [s.message_id, s.count, s.last_at]);
  const recent = [...history.recent].sort((a, b) => a.at - b.at).flatMap((r) => [r.at, r.channel]);
  return {
    attributes: changed.attributes,
    sends,
    recent,
    applied,
    optouts: changed.optouts,
    push: changed.push,
  };
}
