import type { GlobalCap, Message } from '../core/message-schema.ts';
import { MessageSchema } from '../core/message-schema.ts';
import type { CatalogHistory, RecordedLog } from '../ports/recorded-log.ts';
import type { ReplayStore } from '../ports/replay-store.ts';
import type { OutcomeCounts, ReplayReport } from './replay-report.ts';
import type { PartRunner } from './window-replay.ts';
import { replayWindow } from './window-replay.ts';

/** A what-if replay of a window: the recorded messages and caps, or some overridden. */
export type ReplayRequest = {
  readonly kind: 'replay';
  readonly from: number;
  readonly to: number;
  readonly messages?: readonly Message[] | undefined;
  readonly caps?: readonly GlobalCap[] | undefined;
  /** `affected`: only the users whose decisions the overrides can change (`WindowReplayOptions.scope`). */
  readonly scope?: 'all' | 'affected' | undefined;
};

/** One limit, tried at several values: a message's frequency limit, or a field of one global cap. */
export type SweepTarget =
  | { readonly message: string; readonly limit: 'min_interval' | 'max_sends' }
  | { readonly cap: number; readonly field: 'max' | 'per' };

export type SweepRequest = {
  readonly kind: 'sweep';
  readonly from: number;
  readonly to: number;
  readonly target: SweepTarget;
  /** ms for `min_interval` and `per`; a count for `max_sends` (null: no limit) and `max`. */
  readonly values: readonly (number | null)[];
};

/** What one value of a sweep gives: sends, suppressions by reason and users reached, of the target. */
export type SweepPoint = {
  readonly value: number | null;
  readonly sent: number;
  readonly suppressed: Record<string, number>;
  readonly users_reached: number;
};

export type SweepReport = {
  readonly from: number;
  readonly to: number;
  readonly target: SweepTarget;
  /** As recorded, for comparison. */
  readonly recorded: Omit<SweepPoint, 'value'>;
  readonly points: readonly SweepPoint[];
};

export type ReplayJobDeps = {
  readonly recorded: RecordedLog;
  readonly catalog: () => Promise<CatalogHistory>;
  readonly store: ReplayStore;
  /** When things happened, for the record only. */
  readonly now: () => number;
  /** Replays a large window's partitions side by side (threads); without one, on this thread. */
  readonly runner?: PartRunner | undefined;
};

/** A sweep target the catalog does not have. */
export class UnknownTargetError extends Error {
  override readonly name = 'UnknownTargetError';
}

/**
 * Runs a replay or a sweep under an id, keeping its record up to date in the store (running, how
 * many entries of how many, then done with its report, or failed with why), and the decisions of a
 * replay under the same id. A sweep replays the window once per value.
 */
export async function runReplayJob(
  deps: ReplayJobDeps,
  replayId: string,
  request: ReplayRequest | SweepRequest,
): Promise<ReplayReport | SweepReport> {
  const created_at = deps.now();
  const record = { replay_id: replayId, kind: request.kind, params: request, created_at, error: null };
  await deps.store.save({ ...record, status: 'running', entries_done: 0, entries_total: 0, report: null });
  let lastSaved = 0;
  let entriesTotal = 0;
  const progress = (done: number, total: number) => {
    entriesTotal = total;
    // A progress row a second at most: the record is for people watching, not a log.
    if (deps.now() - lastSaved < 1_000) return;
    lastSaved = deps.now();
    void deps.store
      .save({ ...record, status: 'running', entries_done: done, entries_total: total, report: null })
      .catch(() => undefined);
  };
  try {
    const catalog = await deps.catalog();
    const report =
      request.kind === 'replay'
        ? await replayWindow(
            {
              recorded: deps.recorded,
              catalog,
              overrides: { messages: request.messages, caps: request.caps },
              sink: (decisions) => deps.store.insertDecisions(replayId, decisions),
              runner: deps.runner,
              onProgress: progress,
              scope: request.scope,
            },
            request.from,
            request.to,
          )
        : await sweep(deps.recorded, catalog, request, progress, deps.runner);
    // A sweep's total is its entries once per value, as its progress counted them.
    const total = request.kind === 'replay' ? (report as ReplayReport).entries : entriesTotal;
    await deps.store.save({ ...record, status: 'done', entries_done: total, entries_total: total, report });
    return report;
  } catch (error) {
    await deps.store.save({
      ...record,
      status: 'failed',
      entries_done: 0,
      entries_total: 0,
      report: null,
      error: (error as Error).message,
    });
    throw error;
  }
}

async function sweep(
  recorded: RecordedLog,
  catalog: CatalogHistory,
  request: SweepRequest,
  progress: (done: number, total: number) => void,
  runner: PartRunner | undefined,
): Promise<SweepReport> {
  const { target, values, from, to } = request;
  const points: SweepPoint[] = [];
  let recordedPoint: Omit<SweepPoint, 'value'> | undefined;
  for (const [i, value] of values.entries()) {
    const overrides =
      'message' in target
        ? { messages: [withLimit(catalog, target, value)] }
        : { caps: withCap(catalog, target, value) };
    const report = await replayWindow(
      {
        recorded,
        catalog,
        overrides,
        onProgress: (done, total) => {
          progress(i * total + done, values.length * total);
        },
        // A message's limit changes only its trigger's users' decisions, which are all a point
        // counts; a cap's, anyone's.
        scope: 'affected',
        runner,
      },
      from,
      to,
    );
    const pick = (side: 'before' | 'after') =>
      pointOf(report, side, 'message' in target ? target.message : undefined);
    recordedPoint ??= pick('before');
    points.push({ value, ...pick('after') });
  }
  return {
    from,
    to,
    target,
    recorded: recordedPoint ?? { sent: 0, suppressed: {}, users_reached: 0 },
    points,
  };
}

/** The target's sends, suppressions and reach on one side of a report: one message's, or all of them for a cap. */
function pointOf(
  report: ReplayReport,
  side: 'before' | 'after',
  message: string | undefined,
): Omit<SweepPoint, 'value'> {
  const rows = report.messages
    .filter((m) => message === undefined || m.message_id === message)
    .map((m) => m[side]);
  const suppressed: Record<string, number> = {};
  for (const row of rows)
    for (const [reason, n] of Object.entries(row.suppressed))
      suppressed[reason] = (suppressed[reason] ?? 0) + n;
  return {
    sent: rows.reduce((sum: number, row: OutcomeCounts) => sum + row.sent, 0),
    suppressed,
    users_reached: message === undefined ? report.users_reached[side] : (rows[0]?.users_reached ?? 0),
  };
}

/** The message's latest version, with one frequency limit set to the value. */
function withLimit(
  catalog: CatalogHistory,
  target: { message: string; limit: 'min_interval' | 'max_sends' },
  value: number | null,
): Message {
  const latest = [...catalog.messages.values()]
    .filter((m) => m.id === target.message)
    .reduce<Message | undefined>((a, m) => (a === undefined || m.version > a.version ? m : a), undefined);
  if (latest === undefined)
    throw new UnknownTargetError(`message: no message ${JSON.stringify(target.message)} in the catalog`);
  const frequency = {
    ...latest.frequency,
    [target.limit]: target.limit === 'min_interval' ? (value ?? 0) : value,
  };
  return MessageSchema.parse({ ...latest, frequency });
}

/** The caps in force last, with one field of one cap set to the value. */
function withCap(
  catalog: CatalogHistory,
  target: { cap: number; field: 'max' | 'per' },
  value: number | null,
): GlobalCap[] {
  const caps = catalog.caps[catalog.caps.length - 1]?.caps ?? [];
  const cap = caps[target.cap];
  if (cap === undefined)
    throw new UnknownTargetError(
      `cap: there is no cap ${target.cap} (the caps in force have ${caps.length})`,
    );
  if (value === null) throw new UnknownTargetError(`values: a cap's ${target.field} cannot be null`);
  return caps.map((c, i) => (i === target.cap ? { ...c, [target.field]: value } : c));
}
