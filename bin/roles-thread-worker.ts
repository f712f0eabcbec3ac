import { parentPort, workerData } from 'node:worker_threads';
import { loadConfig } from '../pipeline/config/load-config.ts';
import { NudgeMetrics } from '../pipeline/runtime/metrics.ts';
import type { FromRolesThread, RolesThreadData } from './roles-thread.ts';
import { runRoles } from './start-command.ts';

// The body of the roles thread: `runRoles` for the roles it was given, on this thread's event loop
// and connections, until the parent says stop.

const data = workerData as RolesThreadData;
const post = (message: FromRolesThread) => parentPort?.postMessage(message);
const stop = new AbortController();
// The one message the parent sends: stop.
parentPort?.on('message', () => {
  stop.abort();
});

runRoles(
  loadConfig(process.env),
  new Set(data.roles),
  stop.signal,
  (line) => post({ kind: 'report', line }),
  new NudgeMetrics(),
  // The backlog gauges are the parent's, on its /metrics.
  (writer, pending) => post({ kind: 'backlog', writer, pending }),
)
  .catch((error: unknown) => {
    post({ kind: 'failed', message: (error as Error).message });
  })
  .finally(() => parentPort?.close());
