#!/usr/bin/env node
// The package bin: runs the TypeScript CLI through tsx, so `npx nudge` works right after
// `npm install` with no build step (and never runs a stale build).
import { register } from 'tsx/esm/api';

register();
await import('./nudge.ts');
