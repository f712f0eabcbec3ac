import type { Outcome, Reason } from '../core/decision.ts';
import type { LogEntry } from '../core/log-entry.ts';
import type { Channel, GlobalCap, Message } from '../core/message-schema.ts';
import type { UserHistory } from '../core/state-rebuild.ts';

/**
 * A window of the recorded log, per partition: from the first log message holding an entry
 * received at or after `from` up to, and not including, the first holding one received at or
 * after `to`. Whole log messages, in log order, so the window replays in the order it ran.
 */
export type RecordedWindow = {
  readonly from: number;
  readonly to: number;
  /** Per partition, the first stream sequence in the window and the first after it (undefined: to the end). */
  readonly partitions: ReadonlyMap<number, { readonly start: number; readonly end: number | undefined }>;
  /** Entries in the window: of the scope's users only, when it has one. */
  readonly entries: number;
  /** When only some users are replayed: which, and how many of the window's entries there were in all. */
  readonly scope?: ScopedUsers | undefined;
};

/**
 * The users a window is narrowed to: those with a track entry of one of `events` in it. Each
 * user's decisions depend only on that user's entries, so a change to messages triggered by those
 * events changes nobody else's: replaying these users alone gives every changed decision exactly.
 */
/**
 * The window cut into at most `count` windows of contiguous partitions, in partition order (each
 * with the whole's bounds for its partitions, its scope and its entry count): what is read or
 * replayed side by side, then taken in this order to keep log order.
 */
export function windowParts(window: RecordedWindow, count: number): RecordedWindow[] {
  const partitions = [...window.partitions].sort(([a], [b]) => a - b);
  const size = Math.ceil(partitions.length / count);
  const parts: RecordedWindow[] = [];
  for (let start = 0; start < partitions.length; start += size)
    parts.push({ ...window, partitions: new Map(partitions.slice(start, start + size)) });
  return parts;
}

export type UserScope = { readonly events: readonly string[] };

export type ScopedUsers = UserScope & {
  /** Users in the scope. */
  readonly users: number;
  /** Entries of the window, of every user. */
  readonly window_entries: number;
};

/** A decision as the audit recorded it. */
export type RecordedDecision = {
  readonly message_id: string;
  readonly message_version: number;
  /** The catalog sequence of the caps it used (0: none). */
  readonly caps_version: number;
  readonly outcome: Outcome;
  readonly reason: Reason | null;
  readonly subject: string | null;
  readonly body: string | null;
  readonly explanation: string;
  /** A held send's delivery time, ms; null on every other decision (and on those recorded before the column). */
  readonly deliver_at: number | null;
};

/** One log message of the window: its entries in order, each with the decisions recorded for it. */
export type RecordedPack = {
  readonly partition: number;
  readonly seq: number;
  readonly entries: readonly { readonly entry: LogEntry; readonly decisions: readonly RecordedDecision[] }[];
};

/** Every version of the catalog ever stored, each with the time it was stored (ms): what replay needs of it. */
export type CatalogHistory = {
  /** Each message version by `versionKey(id, version)`. */
  readonly messages: ReadonlyMap<string, Message>;
  /** Each version of the global caps, oldest first, with its catalog sequence (what decisions record). */
  readonly caps: readonly {
    readonly seq: number;
    readonly stored_at: number;
    readonly caps: readonly GlobalCap[];
  }[];
};

/** What the audit holds of a user before the window: a `UserHistory`, with each recent send's message version. */
export type RecordedHistory = Omit<UserHistory, 'recent'> & {
  readonly sent: readonly {
    readonly message_id: string;
    readonly message_version: number;
    readonly at: number;
    readonly channel: Channel;
  }[];
};

/**
 * The recorded log and decisions (ClickHouse's audit), as replay reads them. Contract: every
 * entry and decision once, however often the writers stored it; `packs` in log order
 * (partition, then stream sequence, then place in the message).
 */
export type RecordedLog = {
  /** The window from `from` to `to`; with a scope, only its users' entries are in it. */
  window(from: number, to: number, scope?: UserScope): Promise<RecordedWindow>;
  /** The histories of the window's users (of its scope) before it; recent sends from `recentSince` on. */
  histories(window: RecordedWindow, recentSince: number): Promise<Map<string, RecordedHistory>>;
  packs(window: RecordedWindow): AsyncIterable<RecordedPack>;
  /**
   * The histories of every user of a partition through stream sequence `upTo` (what a state
   * store that lost its data needs back); recent sends from `horizonMs` before its last entry.
   */
  partitionHistories(
    partition: number,
    upTo: number,
    horizonMs: number,
  ): Promise<Map<string, RecordedHistory>>;
};
