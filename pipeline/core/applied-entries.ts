/**
 * The ids of a user's entries that had an effect lately, so that the same entry accepted twice is
 * one entry (DESIGN §2). JetStream's duplicate window drops a repeated log message for 2 minutes;
 * it cannot tell a retried entry packed with other entries, so the matcher keeps this record too,
 * in the user's state, where it is loaded, decided and committed with the rest of it, and replay
 * keeps it the same way.
 *
 * `[entry_id, received_at, …]`, flat (as the sends are, for the garbage collector), in log order.
 */
export type AppliedEntries = readonly (string | number)[];

/** An id is remembered for an hour of `received_at` after its entry… */
export const REPEAT_WINDOW_MS = 60 * 60_000;
/** …and only among the user's newest entries that had an effect, so a state stays small. */
export const REPEAT_MAX_IDS = 100;
/**
 * Ids are kept this much past the window of the newest entry: ingest clocks may disagree, so a
 * repeat can be stamped a little before the entry that came ahead of it in the log, and must still
 * find the id it repeats.
 */
export const REPEAT_SKEW_MS = 60_000;

const SLOT = 2;

/** Whether an entry with this id and time had an effect for this user within the window before it. */
export function isRepeat(applied: AppliedEntries, id: string, at: number): boolean {
  for (let i = 0; i < applied.length; i += SLOT) {
    if (applied[i] === id && (applied[i + 1] as number) > at - REPEAT_WINDOW_MS) return true;
  }
  return false;
}

/**
 * A copy with the entry added after the others, leaving out ids past the window of this entry's
 * time (and the skew allowed) and the oldest beyond `REPEAT_MAX_IDS`: memory per user is bounded,
 * never by the log.
 */
export function recordApplied(applied: AppliedEntries, id: string, at: number): AppliedEntries {
  const kept: (string | number)[] = [];
  for (let i = 0; i < applied.length; i += SLOT) {
    const time = applied[i + 1] as number;
    if (time > at - REPEAT_WINDOW_MS - REPEAT_SKEW_MS) kept.push(applied[i] as string, time);
  }
  kept.push(id, at);
  return kept.length > REPEAT_MAX_IDS * SLOT ? kept.slice(kept.length - REPEAT_MAX_IDS * SLOT) : kept;
}
