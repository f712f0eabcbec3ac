import type { CompiledCaps } from './caps.ts';
import type { DecideResult } from './decide.ts';
import { decide } from './decide.ts';
import type { LogEntry } from './log-entry.ts';
import type { RuleIndex } from './rule-index.ts';
import type { UserState } from './user-state.ts';

export type DecideFunction = typeof decide;

/** What deciding one entry gave: the core's result, or why it threw. */
export type GuardedResult = (DecideResult & { readonly failure?: undefined }) | { readonly failure: string };

/**
 * `decide`, with a throw turned into a value. The core throws only on a bug (an entry it cannot
 * handle, never a business outcome); such an entry must not block its partition, so live
 * processing dead-letters it and goes on, and replay, given the same state, entry and rules,
 * throws the same way and skips it the same way: both stay deterministic.
 */
export function decideGuarded(
  state: UserState | undefined,
  entry: LogEntry,
  index: RuleIndex,
  caps: CompiledCaps,
  core: DecideFunction = decide,
): GuardedResult {
  try {
    return core(state, entry, index, caps);
  } catch (error) {
    return { failure: error instanceof Error ? `${error.name}: ${error.message}` : String(error) };
  }
}
