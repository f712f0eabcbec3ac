import type { CatalogMark } from '../../ports/catalog-rebuild.ts';
import type { Namespace } from '../../namespace.ts';
import type { RedisClient } from './connect-redis.ts';

const BUILT = 'built';
const building = (holder: string) => `building:${holder}`;

/** The value is the holder's claim: it gets the new expiry, else 0 (lapsed, taken, or lost). */
const RENEW = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) else return 0 end`;
/** The value is the holder's claim: it becomes the lasting mark, else 0. */
const DONE = `if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('SET', KEYS[1], ARGV[2]); return 1 else return 0 end`;

/**
 * The catalogs' mark in Redis, `<ns>:catalogs`: `built`, or `building:<holder>` with an expiry
 * while a holder rebuilds. A wipe takes it with the catalogs, so the next look finds it missing.
 */
export class RedisCatalogMark implements CatalogMark {
  private readonly key: string;

  constructor(
    private readonly redis: RedisClient,
    ns: Namespace,
  ) {
    this.key = `${ns.name}:catalogs`;
  }

  async claim(holder: string, ttlMs: number): Promise<'built' | 'claimed' | 'busy'> {
    if ((await this.redis.get(this.key)) === BUILT) return 'built';
    const set = await this.redis.set(this.key, building(holder), 'PX', ttlMs, 'NX');
    return set === 'OK' ? 'claimed' : 'busy';
  }

  async renew(holder: string, ttlMs: number): Promise<boolean> {
    return (await this.redis.eval(RENEW, 1, this.key, building(holder), String(ttlMs))) === 1;
  }

  async done(holder: string): Promise<boolean> {
    return (await this.redis.eval(DONE, 1, this.key, building(holder), BUILT)) === 1;
  }
}
