import { readFileSync } from 'node:fs';
import type { Redis } from 'ioredis';
import type { UserState } from '../../core/user-state.ts';
import { stateFromJson } from '../../core/user-state.ts';
import type { Namespace } from '../../namespace.ts';
import type { CommitResult, LoadedStates, StateStore } from '../../ports/state-store.ts';

/**
 * Scripts are registered under versioned names, so two deployed versions of nudge never run each
 * other's scripts (bullmq's habit). Bump with any change to a script's keys, arguments or output.
 */
const SCRIPT_VERSION = 1;
const script = (file: string) => readFileSync(new URL(`scripts/${file}`, import.meta.url), 'utf8');

type Scripts = {
  [K in `nudgeAcquireLease${typeof SCRIPT_VERSION}`]: (
    lease: string,
    epochs: string,
    holder: string,
    ttl: number,
  ) => Promise<number>;
} & {
  [K in `nudgeCommitBatch${typeof SCRIPT_VERSION}`]: (
    keyCount: number,
    ...keysThenArgs: (string | number)[]
  ) => Promise<number>;
};

/**
 * User states in Redis, keyed per partition under one hash tag (`<ns>:{p<n>}:…`), so each
 * partition's keys share a Redis Cluster slot and one script can touch them all.
 */
export class RedisStateStore implements StateStore {
  private readonly redis: Redis & Scripts;

  constructor(
    redis: Redis,
    private readonly ns: Namespace,
  ) {
    redis.defineCommand(`nudgeAcquireLease${SCRIPT_VERSION}`, {
      numberOfKeys: 2,
      lua: script('acquireLease-2.lua'),
    });
    redis.defineCommand(`nudgeCommitBatch${SCRIPT_VERSION}`, { lua: script('commitBatch.lua') });
    this.redis = redis as Redis & Scripts;
  }

  async acquire(partition: number, holder: string, ttlMs: number): Promise<number | undefined> {
    const epoch = await this.redis.nudgeAcquireLease1(
      this.lease(partition),
      this.ns.redisKey(partition, 'epoch'),
      holder,
      ttlMs,
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
    applied: number,
    states: ReadonlyMap<string, UserState>,
  ): Promise<CommitResult> {
    const keys = [
      this.lease(partition),
      this.applied(partition),
      ...[...states.keys()].map((id) => this.stateKey(partition, id)),
    ];
    const args = [epoch, applied, ...[...states.values()].map((state) => JSON.stringify(state))];
    const result = await this.redis.nudgeCommitBatch1(keys.length, ...keys, ...args);
    return result === 1 ? 'committed' : result === 0 ? 'fenced' : 'stale';
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
