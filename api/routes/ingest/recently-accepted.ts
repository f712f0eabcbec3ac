import { DUPLICATE_WINDOW_MS } from '../../../pipeline/ports/entry-log.ts';

/** How many entries a generation holds before it becomes the old one. */
const GENERATION = 100_000;

/** One generation: by entry id, its user and `received_at` (ids are keys as they came, never joined into new strings). */
type Generation = { readonly users: Map<string, string>; readonly times: Map<string, number> };

const generation = (): Generation => ({ users: new Map(), times: new Map() });

/**
 * The entries this API process had acknowledged lately, by user and id, with their `received_at`:
 * a client's retry of one of them is answered `duplicate` without publishing it again. Bounded
 * (the last 100,000 to 200,000 entries, within JetStream's 2-minute window) and per process: a
 * retry that reaches another process, or comes later, is published and answered `accepted`, and
 * the matcher drops it as a repeat (DESIGN §2), so this answer is a courtesy, the matcher the
 * guarantee. Two generations of plain maps rather than an LRU: what is looked up is what was
 * added last, so recency of use adds nothing, and lru-cache's bookkeeping (with a time to live
 * per entry) was a visible cost of every single-entry request. An id stored for two users keeps
 * the later one: the earlier one's retry is then published again, and dropped by the matcher.
 */
export class RecentlyAccepted {
  private current = generation();
  private previous = generation();

  /** When the entry was received, if this process stored it within the window before `now`. */
  receivedAt(userId: string, id: string, now: number): number | undefined {
    const receivedAt = timeIn(this.current, userId, id) ?? timeIn(this.previous, userId, id);
    return receivedAt !== undefined && receivedAt > now - DUPLICATE_WINDOW_MS ? receivedAt : undefined;
  }

  remember(userId: string, id: string, receivedAt: number): void {
    if (this.current.times.size >= GENERATION) {
      this.previous = this.current;
      this.current = generation();
    }
    this.current.users.set(id, userId);
    this.current.times.set(id, receivedAt);
  }
}

const timeIn = (g: Generation, userId: string, id: string): number | undefined =>
  g.users.get(id) === userId ? g.times.get(id) : undefined;

/** One entry's identity (DESIGN §2: an id per user), as one string; the length first, so no user id and id pair reads as another. */
export const entryKey = (userId: string, id: string): string => `${userId.length}:${userId}${id}`;
