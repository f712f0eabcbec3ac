// The lease thread's entry (bin/lease-thread.ts). A worker thread starts without the parent's
// module hooks, so it registers tsx itself, as bin/nudge.js does, then runs the TypeScript.
import { register } from 'tsx/esm/api';

register();
await import('./lease-thread-worker.ts');
