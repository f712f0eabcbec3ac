import { DUPLICATE_WINDOW_MS } from '../../pipeline/adapters/nats/log-stream.ts';

/** How many entries a generation holds before it becomes the old one. */
const GENERATION = 100_000;

/**
 * The entries this API process had acknowledged lately, by user and id, with their `received_at`:
 * a client's retry of one of them is answered `duplicate` without publishing it again. Bounded
 * (the last 100,000 to 200,000 entries, within JetStream's 2-minute window) and per process: a
 * retry that reaches another process, or comes later, is published and answered `accepted`, and
 * the matcher drops it as a repeat (DESIGN §2), so this answer is a courtesy, the matcher the
 * guarantee. Two generations of plain maps rather than an LRU: what is looked up is what was
 * added last, so recency of use adds nothing, and lru-cache's bookkeeping (with a time to live
 * per entry) was a visible cost of every single-entry request.
 */
export class RecentlyAccepted {
  private current = new Map<string, number>();
  private previous = new Map<string, number>();

  /** When the entry was received, if this process stored it within the window before `now`. */
  receivedAt(userId: string, id: string, now: number): number | undefined {
    const key = entryKey(userId, id);
    const receivedAt = this.current.get(key) ?? this.previous.get(key);
    return receivedAt !== undefined && receivedAt > now - DUPLICATE_WINDOW_MS ? receivedAt : undefined;
  }

  remember(userId: string, id: string, receivedAt: number): void {
    if (this.current.size >= GENERATION) {
      this.previous = this.current;
      this.current = new Map();
    }
    this.current.set(entryKey(userId, id), receivedAt);
  }
}

/** One entry's identity (DESIGN §2: an id per user), as one string; the length first, so no user id and id pair reads as another. */
export const entryKey = (userId: string, id: string): string => `${userId.length}:${userId}${id}`;
