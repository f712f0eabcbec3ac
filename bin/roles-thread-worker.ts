import { parentPort, workerData } from 'node:worker_threads';
import { loadConfig } from '../pipeline/config/load-config.ts';
import { NudgeMetrics } from '../pipeline/runtime/metrics.ts';
import { Pauses } from '../pipeline/runtime/pauses.ts';
import type { FromRolesThread, RolesThreadData } from './roles-thread.ts';
import { runRoles } from './start-command.ts';

// The body of the roles thread: `runRoles` for the roles it was given, on this thread's event loop
// and connections, until the parent says stop.

/** A start that failed (a service down as the thread starts) is tried again after this. */
const RETRY_MS = 1_000;

const data = workerData as RolesThreadData;
const post = (message: FromRolesThread) => parentPort?.postMessage(message);
const stop = new AbortController();
// The one message the parent sends: stop.
parentPort?.on('message', () => {
  stop.abort();
});

const config = loadConfig(process.env);
const metrics = new NudgeMetrics();
const pauses = new Pauses(stop.signal);
// The thread starts after the matcher says it runs, and a service may go away in between (the
// fault suite restarts NATS then): the roles are started again until they run, as their steps are
// tried again when they fail, rather than ending the process and its matcher with them.
do {
  try {
    await runRoles(
      config,
      new Set(data.roles),
      stop.signal,
      (line) => post({ kind: 'report', line }),
      metrics,
      // The backlog gauges are the parent's, on its /metrics.
      (writer, pending) => post({ kind: 'backlog', writer, pending }),
    );
  } catch (error) {
    if (!stop.signal.aborted)
      post({ kind: 'report', line: `${data.roles.join(', ')}: ${(error as Error).message}; starting again` });
  }
} while (await pauses.goOnAfter(RETRY_MS));
parentPort?.close();
