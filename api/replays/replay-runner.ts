import { randomUUID } from 'node:crypto';
import type { ClickHouseClient } from '@clickhouse/client';
import type { JetStreamClient } from 'nats';
import { migrateAudit } from '../../pipeline/adapters/clickhouse/audit-schema.ts';
import { ClickHouseRecordedLog } from '../../pipeline/adapters/clickhouse/recorded-log.ts';
import { ClickHouseReplayStore } from '../../pipeline/adapters/clickhouse/replay-store.ts';
import { catalogHistory } from '../../pipeline/adapters/nats/catalog-stream.ts';
import type { Namespace } from '../../pipeline/namespace.ts';
import type { ReplayRecord } from '../../pipeline/ports/replay-store.ts';
import type { ReplayRequest, SweepRequest } from '../../pipeline/replay/replay-job.ts';
import { runReplayJob } from '../../pipeline/replay/replay-job.ts';

/** Starts replays and sweeps in the background and tells how each is going. */
export type ReplayRunner = {
  /** The new replay's id, or undefined when as many replays run as this process allows. */
  start(request: ReplayRequest | SweepRequest): Promise<string | undefined>;
  get(replayId: string): Promise<ReplayRecord | undefined>;
};

/** Replays run at once in one API process, at most: each holds its window's users' states in memory. */
const RUNNING = 2;

/**
 * The API's replays, in its own process: the job of `runReplayJob` over ClickHouse (the recorded
 * log, the store) and NATS (the catalog's history). The record in ClickHouse is the truth for
 * `get`, so any API process can answer for a replay another one runs.
 */
export function replayRunner(deps: {
  readonly clickhouse: ClickHouseClient;
  readonly js: JetStreamClient;
  readonly ns: Namespace;
  readonly now: () => number;
  readonly report?: (line: string) => void;
}): ReplayRunner {
  const store = new ClickHouseReplayStore(deps.clickhouse, deps.ns.database, deps.now);
  let ready: Promise<void> | undefined;
  const migrated = () => {
    ready ??= migrateAudit(deps.clickhouse, deps.ns.database)
      .then(() => store.migrate())
      .catch((error: unknown) => {
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
      const replayId = `r_${randomUUID().replaceAll('-', '').slice(0, 16)}`;
      running++;
      // Saved as running before answering, so a GET right after the 202 finds it.
      await store.save({
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
          recorded: new ClickHouseRecordedLog(deps.clickhouse, deps.ns.database),
          catalog: () => catalogHistory(deps.js, deps.ns),
          store,
          now: deps.now,
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
      return store.get(replayId);
    },
  };
}
