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
  /** Entries in the window. */
  readonly entries: number;
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
  window(from: number, to: number): Promise<RecordedWindow>;
  /** The histories of the window's users before it; recent sends from `recentSince` on. */
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
