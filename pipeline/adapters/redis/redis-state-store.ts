import { readFileSync } from 'node:fs';
import type { RedisClient } from './connect-redis.ts';
import type { UserState } from '../../core/user-state.ts';
import { stateFromJson } from '../../core/user-state.ts';
import type { Namespace } from '../../namespace.ts';
import type { CommitResult, LoadedStates, StateStore } from '../../ports/state-store.ts';

/**
 * Scripts are registered under versioned names, so two deployed versions of nudge never run each
 * other's scripts (bullmq's habit). Bump with any change to a script's keys, arguments or output.
 */
const SCRIPT_VERSION = 2;
const script = (file: string) => readFileSync(new URL(`scripts/${file}`, import.meta.url), 'utf8');

type Scripts = {
  [K in `nudgeAcquireLease${typeof SCRIPT_VERSION}`]: (
    lease: string,
    epochs: string,
    holder: string,
    ttl: number,
    now: number,
  ) => Promise<number>;
} & {
  [K in `nudgeCommitBatch${typeof SCRIPT_VERSION}` | `nudgeRestoreStates${typeof SCRIPT_VERSION}`]: (
    keyCount: number,
    ...keysThenArgs: (string | number)[]
  ) => Promise<number>;
};

/** States a restore writes per script call: one call must not hold Redis for long. */
const RESTORE_CHUNK = 1_000;

/**
 * User states in Redis, keyed per partition under one hash tag (`<ns>:{p<n>}:…`), so each
 * partition's keys share a Redis Cluster slot and one script can touch them all.
 */
export class RedisStateStore implements StateStore {
  private readonly redis: RedisClient & Scripts;

  constructor(
    redis: RedisClient,
    private readonly ns: Namespace,
  ) {
    redis.defineCommand(`nudgeAcquireLease${SCRIPT_VERSION}`, {
      numberOfKeys: 2,
      lua: script('acquireLease-2.lua'),
    });
    redis.defineCommand(`nudgeCommitBatch${SCRIPT_VERSION}`, { lua: script('commitBatch.lua') });
    redis.defineCommand(`nudgeRestoreStates${SCRIPT_VERSION}`, { lua: script('restoreStates.lua') });
    this.redis = redis as RedisClient & Scripts;
  }

  async acquire(partition: number, holder: string, ttlMs: number): Promise<number | undefined> {
    const epoch = await this.redis.nudgeAcquireLease2(
      this.lease(partition),
      this.ns.redisKey(partition, 'epoch'),
      holder,
      ttlMs,
      Date.now(),
    );
    return epoch < 0 ? undefined : epoch;
  }

  async load(partition: number, userIds: readonly string[]): Promise<LoadedStates> {
    const [applied, ...states] = await this.redis.mget(
      this.applied(partition),
      ...userIds.map((id) => this.stateKey(partition, id)),
    );
    return {
      applied: applied === null || applied === undefined ? 0 : Number(applied),
      states: states.map((json) => (json === null ? undefined : stateFromJson(json))),
    };
  }

  async commit(
    partition: number,
    epoch: number,
    from: number,
    applied: number,
    states: ReadonlyMap<string, UserState>,
  ): Promise<CommitResult> {
    const keys = [this.lease(partition), this.applied(partition), ...this.stateKeys(partition, states)];
    const args = [epoch, from, applied, ...[...states.values()].map((state) => JSON.stringify(state))];
    return outcome(await this.redis.nudgeCommitBatch2(keys.length, ...keys, ...args));
  }

  async restore(
    partition: number,
    epoch: number,
    applied: number,
    states: ReadonlyMap<string, UserState>,
  ): Promise<CommitResult> {
    const all = [...states];
    for (let start = 0; ; start += RESTORE_CHUNK) {
      const part = new Map(all.slice(start, start + RESTORE_CHUNK));
      const last = start + RESTORE_CHUNK >= all.length;
      const keys = [this.lease(partition), this.applied(partition), ...this.stateKeys(partition, part)];
      const args = [epoch, last ? applied : 0, ...[...part.values()].map((state) => JSON.stringify(state))];
      const result = outcome(await this.redis.nudgeRestoreStates2(keys.length, ...keys, ...args));
      if (result !== 'committed' || last) return result;
    }
  }

  private stateKeys(partition: number, states: ReadonlyMap<string, UserState>): string[] {
    return [...states.keys()].map((id) => this.stateKey(partition, id));
  }

  private lease(partition: number): string {
    return this.ns.redisKey(partition, 'lease');
  }

  private applied(partition: number): string {
    return this.ns.redisKey(partition, 'applied');
  }

  private stateKey(partition: number, userId: string): string {
    return this.ns.redisKey(partition, 'user', userId);
  }
}

const outcome = (result: number): CommitResult =>
  result === 1 ? 'committed' : result === 0 ? 'fenced' : result === -1 ? 'stale' : 'lost';
