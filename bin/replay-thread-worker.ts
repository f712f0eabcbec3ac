import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { longReadsClient } from '../pipeline/adapters/clickhouse/long-reads-client.ts';
import { ClickHouseRecordedLog } from '../pipeline/adapters/clickhouse/recorded-log.ts';
import type { PositionedDecision } from '../pipeline/ports/decision-sink.ts';
import { ReplayReportBuilder } from '../pipeline/replay/replay-report.ts';
import { replayPart } from '../pipeline/replay/window-replay.ts';
import type { FromReplayThread, ReplayThreadData } from './replay-threads.ts';

// The body of a replay thread: one part of a window replayed (bin/replay-threads.ts), its lines to
// its spool file, its decisions and progress to the parent.

const data = workerData as ReplayThreadData;
const post = (message: FromReplayThread) => parentPort?.postMessage(message);
const clickhouse = longReadsClient(data.clickhouseUrl);
const spool = createWriteStream(data.spool, { encoding: 'utf8' });
/** The lines of a few thousand decisions a write. */
const LINES_A_WRITE = 1 << 20;
let lines: string[] = [];
let length = 0;
const flush = async () => {
  if (lines.length === 0) return;
  const text = lines.join('');
  lines = [];
  length = 0;
  if (!spool.write(text)) await once(spool, 'drain');
};
let taken: (() => void) | undefined;
parentPort?.on('message', () => taken?.());

try {
  const { window, catalog, overrides } = data.request;
  const report = new ReplayReportBuilder(window.from, window.to, window.scope, {
    update: (text: string) => {
      lines.push(text);
      length += text.length;
    },
  });
  await replayPart(
    { recorded: new ClickHouseRecordedLog(clickhouse, data.database), catalog, overrides, window },
    report,
    {
      decisions: async (batch: readonly PositionedDecision[]) => {
        await flush();
        if (!data.request.decisions) return;
        const waiting = new Promise<void>((resolve) => {
          taken = resolve;
        });
        post({ kind: 'decisions', batch });
        await waiting;
      },
      progress: (entries) => {
        if (length >= LINES_A_WRITE) void flush();
        post({ kind: 'progress', entries });
      },
    },
  );
  await flush();
  spool.end();
  await once(spool, 'finish');
  post({ kind: 'done', report: report.part() });
} catch (error) {
  post({ kind: 'failed', name: (error as Error).name, message: (error as Error).message });
} finally {
  await clickhouse.close();
  parentPort?.close();
}
