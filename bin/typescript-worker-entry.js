// The entry of a worker thread running TypeScript (bin/typescript-worker.ts). A worker thread
// starts without the parent's module hooks, so it registers tsx itself, as bin/nudge.js does, then
// imports the module its parent named.
import { argv } from 'node:process';
import { register } from 'tsx/esm/api';

register();
await import(argv[2]);
