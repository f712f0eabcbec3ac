import { Worker } from 'node:worker_threads';

/** A worker thread running the TypeScript module at `module` (the lease thread, the roles thread), given `workerData`. */
export const typeScriptWorker = (module: URL, workerData: unknown): Worker =>
  new Worker(new URL('./typescript-worker-entry.js', import.meta.url), { workerData, argv: [module.href] });
