import type { NudgeMetrics } from '../pipeline/runtime/metrics.ts';
import type { Role } from './roles.ts';
import { typeScriptWorker } from './typescript-worker.ts';

export type RolesThreadData = { readonly roles: readonly Role[] };

export type FromRolesThread =
  | { readonly kind: 'report'; readonly line: string }
  | { readonly kind: 'backlog'; readonly writer: string; readonly pending: number };

/**
 * Runs pipeline roles (the audit writers, the deliveries) on a thread of their own, beside the
 * matcher's, until the signal aborts (issue #20): their decoding, row building and ClickHouse
 * encoding no longer wait in the matcher's event loop, nor their garbage in its heap, so a
 * decision is not held up behind an audit batch, and a second core does that work. The thread
 * has its own connections (its own `runRoles`, started again until it runs); its lines and its
 * writers' backlogs come here. Resolves once the thread has stopped; rejects when it fails (an
 * error thrown in it) or ends unasked.
 */
export function runRolesOnThread(
  roles: ReadonlySet<Role>,
  signal: AbortSignal,
  report: (line: string) => void,
  metrics: NudgeMetrics,
): Promise<void> {
  return new Promise((resolve, reject) => {
    const data: RolesThreadData = { roles: [...roles] };
    const worker = typeScriptWorker(new URL('./roles-thread-worker.ts', import.meta.url), data);
    let failure: Error | undefined;
    const stop = () => {
      worker.postMessage('stop');
    };
    signal.addEventListener('abort', stop, { once: true });
    worker.on('message', (message: FromRolesThread) => {
      if (message.kind === 'report') report(message.line);
      else metrics.writerBacklog.set({ writer: message.writer }, message.pending);
    });
    worker.on('error', (error) => {
      failure = error;
    });
    worker.on('exit', (code) => {
      signal.removeEventListener('abort', stop);
      if (failure !== undefined) reject(failure);
      else if (!signal.aborted)
        reject(new Error(`the thread of ${[...roles].join(', ')} ended (code ${code})`));
      else resolve();
    });
  });
}
