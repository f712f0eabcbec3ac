import type { EventKeys, ObservedKey } from '../../ports/event-keys.ts';
import type { RedisClient } from './connect-redis.ts';
import { keysInSentOrder } from '../../core/key-order.ts';
import { USABLE_METADATA_KEYS } from '../../core/log-entry.ts';
import type { LogEntry } from '../../core/log-entry.ts';
import type { Namespace } from '../../namespace.ts';

const typeOf = (value: unknown) => (value === null ? 'null' : typeof value);

/**
 * The metadata keys seen on each event name, for people composing messages (issue #4, the event
 * catalog): the first 20 keys of an entry, in the order sent, are the ones rules can use, so a
 * key's place is the earliest position it was seen at, and its types are every JSON type seen.
 * The order sent is the one the entry's reader attached when JavaScript would move the usable keys
 * (`core/key-order.ts`); an entry of at most 20 keys has them all usable, its integer-like ones
 * placed first as JavaScript lists them.
 * Writes are idempotent (ZADD LT, HSETNX), so a batch recorded twice changes nothing. Counts and
 * last-seen times come from the audit in ClickHouse, which is exact. Every key is under one Redis
 * Cluster hash tag (`<ns>:{event_keys}:keys|types:<event>`): a batch is one pipeline, which a
 * cluster takes only within one slot. (Before, `<ns>:event_keys:<event>`: the catalogs' rebuild
 * fills the new keys from ClickHouse on the first start after the change.)
 */
export class RedisEventCatalog implements EventKeys {
  constructor(
    private readonly redis: RedisClient,
    private readonly ns: Namespace,
  ) {}

  async record(entries: readonly LogEntry[]): Promise<void> {
    const positions = new Map<string, Map<string, number>>();
    const types = new Map<string, Set<string>>();
    for (const entry of entries) {
      if (entry.type !== 'track' || entry.metadata === undefined) continue;
      const seen = positions.get(entry.name) ?? new Map<string, number>();
      positions.set(entry.name, seen);
      const typed = types.get(entry.name) ?? new Set<string>();
      types.set(entry.name, typed);
      const metadata = entry.metadata;
      keysInSentOrder(metadata)
        .slice(0, USABLE_METADATA_KEYS)
        .forEach((key, position) => {
          seen.set(key, Math.min(position, seen.get(key) ?? position));
          typed.add(JSON.stringify([key, typeOf(metadata[key])]));
        });
    }
    if (positions.size === 0) return;
    const pipeline = this.redis.pipeline();
    for (const [name, seen] of positions) {
      for (const [key, position] of seen) pipeline.zadd(this.keysOf(name), 'LT', position, key);
      for (const pair of types.get(name) ?? []) pipeline.hsetnx(this.typesOf(name), pair, '1');
    }
    const results = await pipeline.exec();
    const failed = results?.find(([error]) => error !== null);
    if (failed?.[0]) throw failed[0];
  }

  /** The usable keys seen on an event, in place order, each with the types seen. */
  async keys(name: string): Promise<ObservedKey[]> {
    const [ordered, typed] = await Promise.all([
      this.redis.zrange(this.keysOf(name), 0, USABLE_METADATA_KEYS - 1),
      this.redis.hkeys(this.typesOf(name)),
    ]);
    const byKey = new Map<string, string[]>();
    for (const pair of typed) {
      const [key, type] = JSON.parse(pair) as [string, string];
      byKey.set(key, [...(byKey.get(key) ?? []), type].sort());
    }
    return ordered.map((key) => ({ key, types: byKey.get(key) ?? [] }));
  }

  private keysOf(name: string): string {
    return `${this.ns.name}:{event_keys}:keys:${name}`;
  }

  private typesOf(name: string): string {
    return `${this.ns.name}:{event_keys}:types:${name}`;
  }
}
