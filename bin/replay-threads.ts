import { createReadStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Worker } from 'node:worker_threads';
import type { ReportPart } from '../pipeline/replay/replay-report.ts';
import type { PartEvents, PartRequest, PartRunner } from '../pipeline/replay/window-replay.ts';
import { MissingVersionError } from '../pipeline/replay/window-replay.ts';
import type { PositionedDecision } from '../pipeline/ports/decision-sink.ts';
import { typeScriptWorker } from './typescript-worker.ts';

export type ReplayThreadData = {
  readonly clickhouseUrl: string;
  readonly database: string;
  readonly request: PartRequest;
  /** The file the part writes its replay lines to, in order. */
  readonly spool: string;
};

export type FromReplayThread =
  | { readonly kind: 'progress'; readonly entries: number }
  | { readonly kind: 'decisions'; readonly batch: readonly PositionedDecision[] }
  | { readonly kind: 'done'; readonly report: ReportPart }
  | { readonly kind: 'failed'; readonly name: string; readonly message: string };

/** A window this small is replayed on the caller's thread: starting threads would take longer. */
const SMALLEST_WINDOW = 50_000;

/**
 * A window's replay on threads (issue #20): each part (a group of partitions) on a thread of its
 * own, with its own ClickHouse connection, deciding beside the others. Its replay lines go to a
 * file of its own as it goes, and are hashed part after part at the end, so the hash is the one
 * replaying on one thread gives without holding the later parts' lines in memory meanwhile. Its
 * decisions come back a batch at a time, each waiting for the sink to take the one before.
 */
export class ReplayThreads implements PartRunner {
  constructor(
    private readonly clickhouse: { readonly url: string; readonly database: string },
    /** Parts side by side. */
    readonly parts = 2,
    /** Windows of fewer entries are replayed on the caller's thread. */
    private readonly smallest = SMALLEST_WINDOW,
  ) {}

  partsFor(entries: number): number {
    return entries < this.smallest ? 1 : this.parts;
  }

  async run(requests: readonly PartRequest[], events: PartEvents): Promise<ReportPart[]> {
    const dir = await mkdtemp(join(tmpdir(), 'nudge-replay-'));
    const workers: Worker[] = [];
    try {
      const spools = requests.map((_, i) => join(dir, `part-${i}.lines`));
      const reports = await Promise.all(
        requests.map((request, i) => {
          const data: ReplayThreadData = {
            clickhouseUrl: this.clickhouse.url,
            database: this.clickhouse.database,
            request,
            spool: spools[i] ?? '',
          };
          const worker = typeScriptWorker(new URL('./replay-thread-worker.ts', import.meta.url), data);
          workers.push(worker);
          return part(worker, events);
        }),
      );
      for (const spool of spools)
        for await (const chunk of createReadStream(spool, { encoding: 'utf8' }))
          events.lines(chunk as string);
      return reports;
    } finally {
      await Promise.all(workers.map((worker) => worker.terminate()));
      await rm(dir, { recursive: true, force: true });
    }
  }
}

/** One thread's part: its events handed on until it is done (or failed, or ended without a word). */
function part(worker: Worker, events: PartEvents): Promise<ReportPart> {
  return new Promise((resolve, reject) => {
    let settled = false;
    const fail = (error: Error) => {
      if (settled) return;
      settled = true;
      reject(error);
    };
    worker.on('message', (message: FromReplayThread) => {
      if (message.kind === 'progress') events.progress(message.entries);
      else if (message.kind === 'decisions')
        events.decisions(message.batch).then(
          () => {
            worker.postMessage('taken');
          },
          (error: unknown) => {
            fail(error as Error);
          },
        );
      else if (message.kind === 'done') {
        settled = true;
        resolve(message.report);
      } else
        fail(
          message.name === 'MissingVersionError'
            ? new MissingVersionError(message.message)
            : Object.assign(new Error(message.message), { name: message.name }),
        );
    });
    worker.on('error', fail);
    worker.on('exit', (code) => {
      fail(new Error(`a replay thread ended (code ${code}) before its part was done`));
    });
  });
}
