import type { InboxEntry } from '../../pipeline/ports/inbox.ts';

/** A `track` call of this page. All times epoch ms. */
export type TrackTiming = {
  /** The entry's id (the page makes it, and the ingest answer repeats it). */
  readonly entry_id: string;
  /** When `track` was called. */
  readonly tracked_at: number;
  /** When the ingest answer came (null until it does, or when it failed): ingest latency is `answered_at - tracked_at`. */
  answered_at: number | null;
};

/** A message rendered in this page. All times epoch ms. */
export type RenderTiming = {
  readonly decision_id: string;
  readonly message_id: string;
  /** The log entry that triggered it (a decision id is `<message id>:<entry id>`). */
  readonly entry_id: string | null;
  /** When the API received the triggering entry (the send's `at`). */
  readonly at: number;
  /** When this page put it in the DOM. */
  readonly rendered_at: number;
  /** When this page called `track` for that entry, if it did: track → rendered is `rendered_at - tracked_at`. */
  readonly tracked_at: number | null;
};

/** What `Nudge.timings()` answers (`npm run bench:inapp` reads it): oldest first. */
export type Timings = { readonly tracks: TrackTiming[]; readonly rendered: RenderTiming[] };

/** What a long-lived page keeps: the newest of each. */
const KEPT = 10_000;

/**
 * The page's clock as epoch ms: `performance.timeOrigin + performance.now()` is monotonic within
 * the page (Date.now() can jump) and comparable with the API's `at`, up to the clocks' skew.
 */
export const epochNow = (): number => performance.timeOrigin + performance.now();

/** The SDK's own timing of the path from `track` to a rendered message, for one page (kept across boots). */
export class TimingLog {
  private readonly tracks = new Map<string, TrackTiming>();
  private rendered: RenderTiming[] = [];

  tracked(entryId: string, at: number): TrackTiming {
    const timing: TrackTiming = { entry_id: entryId, tracked_at: at, answered_at: null };
    this.tracks.set(entryId, timing);
    if (this.tracks.size > KEPT) {
      const oldest = this.tracks.keys().next();
      if (oldest.done !== true) this.tracks.delete(oldest.value);
    }
    return timing;
  }

  shown(entry: InboxEntry, renderedAt: number): void {
    const prefix = `${entry.message_id}:`;
    const entryId = entry.decision_id.startsWith(prefix) ? entry.decision_id.slice(prefix.length) : null;
    this.rendered.push({
      decision_id: entry.decision_id,
      message_id: entry.message_id,
      entry_id: entryId,
      at: entry.at,
      rendered_at: renderedAt,
      tracked_at: entryId === null ? null : (this.tracks.get(entryId)?.tracked_at ?? null),
    });
    if (this.rendered.length > KEPT) this.rendered.shift();
  }

  /** A copy of both lists; `clear` empties them after (a benchmark's next round counts its own). */
  snapshot(clear = false): Timings {
    const timings = {
      tracks: [...this.tracks.values()].map((t) => ({ ...t })),
      rendered: this.rendered.slice(),
    };
    if (clear) {
      this.tracks.clear();
      this.rendered = [];
    }
    return timings;
  }
}
