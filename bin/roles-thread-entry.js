// The roles thread's entry (bin/roles-thread.ts). A worker thread starts without the parent's
// module hooks, so it registers tsx itself, as bin/nudge.js does, then runs the TypeScript.
import { register } from 'tsx/esm/api';

register();
await import('./roles-thread-worker.ts');
