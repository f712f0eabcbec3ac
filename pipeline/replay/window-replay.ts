import { createHash } from 'node:crypto';
import type { CompiledCaps } from '../core/caps.ts';
import { compileCaps } from '../core/caps.ts';
import { decideGuarded } from '../core/guarded-decide.ts';
import type { LogEntry } from '../core/log-entry.ts';
import type { GlobalCap, Message } from '../core/message-schema.ts';
import { versionKey } from '../core/message-schema.ts';
import type { RuleIndex } from '../core/rule-index.ts';
import { buildRuleIndex } from '../core/rule-index.ts';
import { rebuildState } from '../core/state-rebuild.ts';
import type { UserState } from '../core/user-state.ts';
import type { PositionedDecision } from '../ports/decision-sink.ts';
import type {
  CatalogHistory,
  RecordedDecision,
  RecordedHistory,
  RecordedLog,
  RecordedWindow,
} from '../ports/recorded-log.ts';
import { windowParts } from '../ports/recorded-log.ts';
import type { ReplayReport, ReportPart } from './replay-report.ts';
import { mergeReportParts, ReplayReportBuilder } from './replay-report.ts';

/** What a what-if replay changes: messages (by id, replacing their recorded versions, or new) and the caps. */
export type ReplayOverrides = {
  readonly messages?: readonly Message[] | undefined;
  readonly caps?: readonly GlobalCap[] | undefined;
};

export type WindowReplayOptions = {
  readonly recorded: RecordedLog;
  readonly catalog: CatalogHistory;
  readonly overrides?: ReplayOverrides | undefined;
  /** Receives the replayed decisions, in log order, a batch at a time (to store them). */
  readonly sink?: ((decisions: readonly PositionedDecision[]) => Promise<void>) | undefined;
  readonly onProgress?: ((entries: number, total: number) => void) | undefined;
  /** Replays groups of partitions side by side (threads); without one, the whole window here. */
  readonly runner?: PartRunner | undefined;
  /**
   * `affected`: replay only the users whose decisions the overrides can change (`affectedEvents`),
   * which gives every changed decision exactly in a fraction of the time; the report's counts are
   * then of those users. `all` (the default) replays everyone.
   */
  readonly scope?: 'all' | 'affected' | undefined;
};

/** A message version the catalog no longer has: the replay cannot use what the decisions used. */
export class MissingVersionError extends Error {
  override readonly name = 'MissingVersionError';
}

/** One part of a window's replay: some of its partitions, replayed as the whole would replay them. */
export type PartRequest = {
  /** The window with only the part's partitions (and the whole's scope). */
  readonly window: RecordedWindow;
  readonly catalog: CatalogHistory;
  readonly overrides: ReplayOverrides | undefined;
  /** Whether the part's decisions are wanted (the replay has a sink). */
  readonly decisions: boolean;
};

/** What the parts hand back as they go: their lines in order, part after part; their decisions; their progress. */
export type PartEvents = {
  /** Replay lines, each ending in a newline: every part's, in the order of the parts. */
  lines(text: string): void;
  decisions(batch: readonly PositionedDecision[]): Promise<void>;
  /** Entries done by some part since its last progress. */
  progress(entries: number): void;
};

/**
 * Replays parts of a window side by side, elsewhere than this thread (bin/replay-threads.ts):
 * partitions are independent (each user's entries are all in one), so a window's replay is its
 * partitions' replays merged.
 */
export type PartRunner = {
  /** How many parts to run a window of this many entries in, side by side (1: none, here). */
  partsFor(entries: number): number;
  run(requests: readonly PartRequest[], events: PartEvents): Promise<ReportPart[]>;
};

const SINK_BATCH = 10_000;

/**
 * Replays a window of the recorded log (issue #5): the state of each user at the window's start
 * rebuilt from what the audit holds before it (`rebuildState`), then every entry of the window
 * decided in log order by the same core as live. The messages an entry is decided with are the
 * versions its recorded decisions name (every live candidate gets exactly one decision, so they
 * are exactly the candidates the matcher had, even across a change of the message set inside the
 * window); with overrides, an overridden message is replaced by its override for every entry of
 * its trigger event, and a new one added. The caps likewise are the version the decisions
 * recorded (`capsChooser`), or the overriding ones. Without overrides, the report says whether
 * every decision came out as recorded. With a `PartRunner`, contiguous groups of partitions are
 * replayed side by side and merged: the same report and hash (issue #20).
 */
export async function replayWindow(
  options: WindowReplayOptions,
  from: number,
  to: number,
): Promise<ReplayReport> {
  const { recorded, catalog, overrides, sink, onProgress, runner } = options;
  const events = options.scope === 'affected' ? affectedEvents(catalog, overrides) : undefined;
  const window = await recorded.window(from, to, events === undefined ? undefined : { events });
  let done = 0;
  const progress = (entries: number) => {
    const before = done;
    done += entries;
    if (Math.floor(done / 10_000) > Math.floor(before / 10_000)) onProgress?.(done, window.entries);
  };
  const parts = windowParts(window, runner?.partsFor(window.entries) ?? 1);
  if (runner === undefined || parts.length < 2) {
    const report = new ReplayReportBuilder(from, to, window.scope);
    await replayPart({ recorded, catalog, overrides, window }, report, {
      decisions: sink ?? (() => Promise.resolve()),
      progress,
    });
    onProgress?.(done, window.entries);
    return report.report();
  }
  const requests = parts.map((part) => ({ window: part, catalog, overrides, decisions: sink !== undefined }));
  const hash = createHash('sha256');
  const reports = await runner.run(requests, {
    lines: (text) => hash.update(text),
    decisions: sink ?? (() => Promise.resolve()),
    progress,
  });
  onProgress?.(done, window.entries);
  return mergeReportParts(from, to, window.scope, hash.digest('hex'), reports);
}

/**
 * Replays the partitions of `window` in log order into `report` (which hashes or hands on the
 * lines), handing the decisions on a batch at a time: what one thread runs of a window.
 */
export async function replayPart(
  part: Omit<PartRequest, 'decisions'> & { readonly recorded: RecordedLog },
  report: ReplayReportBuilder,
  events: Omit<PartEvents, 'lines'>,
): Promise<void> {
  const { recorded, catalog, overrides, window } = part;
  const capsFor = capsChooser(catalog, overrides?.caps);
  const histories = await recorded.histories(window, window.from - capsFor.horizon);
  const states = statesFromHistories(histories, catalog);
  const indexFor = indexes(catalog, overrides?.messages);
  let pending: PositionedDecision[] = [];
  let done = 0;
  for await (const pack of recorded.packs(window)) {
    for (const { entry, decisions } of pack.entries) {
      const caps = capsFor.for(pack.partition, entry, decisions);
      const result = decideGuarded(states.get(entry.user_id), entry, indexFor(entry, decisions), caps);
      // An entry the core throws on was dead-lettered live, with no decisions: so here.
      const made = result.failure === undefined ? result.decisions : [];
      if (result.failure === undefined) states.set(entry.user_id, result.state);
      report.add(entry, decisions, made);
      const caps_version = overrides?.caps === undefined ? (decisions[0]?.caps_version ?? 0) : 0;
      for (const decision of made)
        pending.push({ decision, partition: pack.partition, seq: pack.seq, caps_version });
    }
    done += pack.entries.length;
    if (pending.length >= SINK_BATCH) {
      await events.decisions(pending);
      pending = [];
    }
    if (done >= PROGRESS_EVERY) {
      events.progress(done);
      done = 0;
    }
  }
  if (pending.length > 0) await events.decisions(pending);
  events.progress(done);
}

/** Entries between a part's progress reports. */
const PROGRESS_EVERY = 1_000;

/**
 * The events whose users the overrides can change decisions of: the triggers of each overridden
 * message, in its override and in every version the catalog has (an entry decided by an old
 * version is decided differently now). Undefined when the caps change, or nothing does: every
 * user's decisions may change then, or none.
 */
export function affectedEvents(
  catalog: CatalogHistory,
  overrides: ReplayOverrides | undefined,
): string[] | undefined {
  if (overrides?.caps !== undefined || overrides?.messages === undefined) return undefined;
  const ids = new Set(overrides.messages.map((m) => m.id));
  const events = new Set(overrides.messages.map((m) => m.trigger.event));
  for (const message of catalog.messages.values()) if (ids.has(message.id)) events.add(message.trigger.event);
  return [...events].sort();
}

/**
 * Each user's state at the point their histories were read to (`rebuildState`). A recent send
 * counts toward the caps unless the version it was sent by was exempt.
 */
export function statesFromHistories(
  histories: ReadonlyMap<string, RecordedHistory>,
  catalog: CatalogHistory,
): Map<string, UserState> {
  const states = new Map<string, UserState>();
  for (const [user, history] of histories) {
    const recent = history.sent
      .filter(
        (send) =>
          catalog.messages.get(versionKey(send.message_id, send.message_version))?.global_cap_exempt !== true,
      )
      .map(({ at, channel }) => ({ at, channel }));
    states.set(user, rebuildState({ ...history, recent }));
  }
  return states;
}

/** The longest window of any cap in the catalog's history: sends that recent are part of a state. */
export const capsHorizon = (catalog: CatalogHistory): number =>
  catalog.caps.reduce(
    (longest, version) => version.caps.reduce((l, cap) => Math.max(l, cap.per), longest),
    0,
  );

/** The rule index an entry is decided with: its recorded candidates' versions, overridden as asked; one index per distinct set. */
function indexes(catalog: CatalogHistory, overrides: readonly Message[] | undefined) {
  const cache = new Map<string, RuleIndex>();
  const overridden = new Set((overrides ?? []).map((m) => m.id));
  return (entry: LogEntry, decisions: readonly RecordedDecision[]): RuleIndex => {
    const versions = decisions
      .filter((d) => !overridden.has(d.message_id))
      .map((d) => versionKey(d.message_id, d.message_version))
      .sort();
    const event = entry.type === 'track' ? entry.name : '';
    const key = overrides === undefined ? versions.join(',') : `${event}|${versions.join(',')}`;
    let index = cache.get(key);
    if (index === undefined) {
      const messages = versions.map((name) => {
        const message = catalog.messages.get(name);
        if (message === undefined)
          throw new MissingVersionError(
            `the catalog has no ${name}, which a recorded decision used: the window cannot be replayed as it ran`,
          );
        return message;
      });
      for (const message of overrides ?? []) if (message.trigger.event === event) messages.push(message);
      index = buildRuleIndex(messages);
      cache.set(key, index);
    }
    return index;
  };
}

/**
 * The caps an entry is decided with: the version its recorded decisions name (the matcher records
 * the version it used), or for an entry without decisions the last one used in its partition, or
 * the version stored last before its `received_at`; the overriding caps, when given, always.
 * In a window narrowed to some users, "last used in its partition" is the last among theirs: the
 * same unless the caps changed inside the window between a decision of theirs and of another's.
 */
function capsChooser(catalog: CatalogHistory, override: readonly GlobalCap[] | undefined) {
  const fixed = override === undefined ? undefined : compileCaps(override);
  const none = compileCaps([]);
  const bySeq = new Map(
    catalog.caps.map((v) => [v.seq, { stored_at: v.stored_at, compiled: compileCaps(v.caps) }]),
  );
  const lastIn = new Map<number, CompiledCaps>();
  const all = [...catalog.caps.flatMap((v) => v.caps), ...(override ?? [])];
  const stored = (time: number): CompiledCaps => {
    let found = none;
    for (const version of bySeq.values()) {
      if (version.stored_at > time) break;
      found = version.compiled;
    }
    return found;
  };
  return {
    /** The longest window of any cap that may apply: sends that recent are needed before the window. */
    horizon: all.reduce((longest, cap) => Math.max(longest, cap.per), 0),
    for(partition: number, entry: LogEntry, decisions: readonly RecordedDecision[]): CompiledCaps {
      if (fixed !== undefined) return fixed;
      const version = decisions[0]?.caps_version;
      if (version === undefined) return lastIn.get(partition) ?? stored(entry.received_at);
      const caps = version === 0 ? none : bySeq.get(version)?.compiled;
      if (caps === undefined)
        throw new MissingVersionError(
          `the catalog has no caps at sequence ${version}, which a recorded decision used: the window cannot be replayed as it ran`,
        );
      lastIn.set(partition, caps);
      return caps;
    },
  };
}
