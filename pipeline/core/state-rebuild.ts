import type { AppliedEntries } from './applied-entries.ts';
import { isRepeat, recordApplied } from './applied-entries.ts';
import type { Channel } from './message-schema.ts';
import type { FlatObject } from './scalar.ts';
import type { UserState } from './user-state.ts';
import { applyAttributes, EMPTY_USER_STATE } from './user-state.ts';

/** What the audit recorded of one user before a point of the log, enough to rebuild their state there. */
export type UserHistory = {
  /** Attributes of the user's `identify` entries, in log order. */
  readonly attributes: readonly FlatObject[];
  /** Sends per message: how many, and the last. */
  readonly sends: readonly {
    readonly message_id: string;
    readonly count: number;
    readonly last_at: number;
  }[];
  /** The sends that count toward the global caps, within the caps' longest window at least; any order. */
  readonly recent: readonly { readonly at: number; readonly channel: Channel }[];
  /**
   * The user's entries from a little over the repeat window before the point (`REPEAT_WINDOW_MS`),
   * in log order, each with whether it had decisions (or is an `identify`).
   */
  readonly entries: readonly { readonly id: string; readonly at: number; readonly effect: boolean }[];
};

/**
 * A user's state at a point of the log, rebuilt from the audit rather than replayed from the
 * beginning (STYLE: state is a fold over sends and identifies): the attributes merged in order,
 * the sends per message, the recent sends in time order (more of them than the live state keeps is
 * harmless: the caps count only sends inside their windows), and the record of applied entries
 * folded as `decide` folds it, so a repeat of an entry before the point is still dropped after it.
 */
export function rebuildState(history: UserHistory): UserState {
  let attributes = EMPTY_USER_STATE.attributes;
  for (const update of history.attributes)
    attributes = applyAttributes({ ...EMPTY_USER_STATE, attributes }, update).attributes;
  const sends = [...history.sends]
    .sort((a, b) => (a.message_id < b.message_id ? -1 : a.message_id > b.message_id ? 1 : 0))
    .flatMap((s) => [s.message_id, s.count, s.last_at]);
  const recent = [...history.recent].sort((a, b) => a.at - b.at).flatMap((r) => [r.at, r.channel]);
  let applied: AppliedEntries = EMPTY_USER_STATE.applied;
  for (const entry of history.entries) {
    // As decide does: a repeat of an entry already recorded is dropped, and left unrecorded.
    if (!entry.effect || isRepeat(applied, entry.id, entry.at)) continue;
    applied = recordApplied(applied, entry.id, entry.at);
  }
  return { attributes, sends, recent, applied };
}
