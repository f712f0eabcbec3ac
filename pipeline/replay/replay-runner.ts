import type { CatalogHistory, RecordedLog } from '../ports/recorded-log.ts';
import type { ReplayRecord, ReplayStore } from '../ports/replay-store.ts';
import type { ReplayRequest, SweepRequest } from './replay-job.ts';
import { runReplayJob } from './replay-job.ts';
import { newReplayId } from './replay-id.ts';
import type { PartRunner } from './window-replay.ts';

/** Starts replays and sweeps in the background and tells how each is going. */
export type ReplayRunner = {
  /** The new replay's id, or undefined when as many replays run as this process allows. */
  start(request: ReplayRequest | SweepRequest): Promise<string | undefined>;
  get(replayId: string): Promise<ReplayRecord | undefined>;
};

/** Replays run at once in one process, at most: each holds its window's users' states in memory. */
const RUNNING = 2;

/**
 * Replays in this process: `runReplayJob` over the recorded log, the catalog's history and the
 * replay store. The store's record is the truth for `get`, so any process sharing the store can
 * answer for a replay another one runs. `ready` makes the store usable (its tables), once; a
 * failure is tried again on the next call.
 */
export function replayRunner(deps: {
  readonly recorded: RecordedLog;
  readonly store: ReplayStore;
  readonly catalog: () => Promise<CatalogHistory>;
  readonly ready: () => Promise<void>;
  readonly now: () => number;
  readonly report?: (line: string) => void;
  /** Replays a large window's partitions side by side (threads). */
  readonly runner?: PartRunner;
}): ReplayRunner {
  let ready: Promise<void> | undefined;
  const migrated = () => {
    ready ??= deps.ready().catch((error: unknown) => {
      ready = undefined;
      throw error;
    });
    return ready;
  };
  let running = 0;
  return {
    async start(request) {
      if (running >= RUNNING) return undefined;
      await migrated();
      const replayId = newReplayId();
      running++;
      // Saved as running before answering, so a GET right after the 202 finds it.
      await deps.store.save({
        replay_id: replayId,
        kind: request.kind,
        params: request,
        status: 'running',
        entries_done: 0,
        entries_total: 0,
        report: null,
        error: null,
        created_at: deps.now(),
      });
      void runReplayJob(
        {
          recorded: deps.recorded,
          catalog: deps.catalog,
          store: deps.store,
          now: deps.now,
          runner: deps.runner,
        },
        replayId,
        request,
      )
        .catch((error: unknown) => deps.report?.(`replay ${replayId} failed: ${(error as Error).message}`))
        .finally(() => {
          running--;
        });
      return replayId;
    },
    async get(replayId) {
      await migrated();
      return deps.store.get(replayId);
    },
  };
}
