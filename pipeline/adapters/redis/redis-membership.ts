import type { RedisClient } from './connect-redis.ts';
import type { Namespace } from '../../namespace.ts';
import type { Membership } from '../../ports/membership.ts';

/** Members in a sorted set scored by their last heartbeat, in this process's clock (processes share a machine's or NTP's). */
export class RedisMembership implements Membership {
  constructor(
    private readonly redis: RedisClient,
    private readonly ns: Namespace,
    private readonly now: () => number = Date.now,
  ) {}

  async heartbeat(self: string, ttlMs: number): Promise<readonly string[]> {
    const key = `${this.ns.name}:members`;
    const now = this.now();
    const results = await this.redis
      .multi()
      .zadd(key, now, self)
      .zremrangebyscore(key, '-inf', now - ttlMs)
      .zrange(key, 0, -1)
      .exec();
    const members = results?.[2]?.[1];
    return Array.isArray(members) ? (members as string[]) : [self];
  }
}
