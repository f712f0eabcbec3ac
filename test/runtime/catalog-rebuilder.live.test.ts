import { randomUUID } from 'node:crypto';
import { createClient } from '@clickhouse/client';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrateAudit } from '../../pipeline/adapters/clickhouse/audit-schema.ts';
import { ClickHouseAuditSink } from '../../pipeline/adapters/clickhouse/clickhouse-audit-sink.ts';
import { ClickHouseRecordedLog } from '../../pipeline/adapters/clickhouse/recorded-log.ts';
import { RedisAttributeCatalog } from '../../pipeline/adapters/redis/redis-attribute-catalog.ts';
import { RedisCatalogMark } from '../../pipeline/adapters/redis/redis-catalog-mark.ts';
import { RedisEventCatalog } from '../../pipeline/adapters/redis/redis-event-catalog.ts';
import { loadConfig } from '../../pipeline/config/load-config.ts';
import type { LogEntry } from '../../pipeline/core/log-entry.ts';
import { Namespace } from '../../pipeline/namespace.ts';
import type { RecordedEntries } from '../../pipeline/ports/catalog-rebuild.ts';
import { CatalogRebuilder } from '../../pipeline/runtime/catalog-rebuilder.ts';

/**
 * The catalogs kept in Redis beside the states (the event catalog's keys, the attribute catalog)
 * rebuilt from the entries ClickHouse recorded, after Redis lost them (issue #21), on the real
 * Redis and ClickHouse.
 */
const config = loadConfig(process.env);
const redis = new Redis(config.redisUrl);
const clickhouse = createClient({ url: config.clickhouseUrl, request_timeout: 60_000 });
const ns = new Namespace(`t_${randomUUID().replaceAll('-', '').slice(0, 20)}`);
const events = new RedisEventCatalog(redis, ns);
const attributes = new RedisAttributeCatalog(redis, ns);
const recorded = new ClickHouseRecordedLog(clickhouse, ns.database);
const EVENTS = ['upload-completed', 'purchase', 'signup'];
const START = 1_790_000_000_000;

/** Tracks with metadata keys that vary by event and entry, identifies with attributes of several types. */
function traffic(count: number): LogEntry[] {
  const entries: LogEntry[] = [];
  for (let i = 0; i < count; i++) {
    const user_id = `u${i % 37}`;
    const received_at = START + i * 1_000;
    if (i % 4 === 3) {
      const attrs: Record<string, string | number | boolean | null> = { plan: i % 2 === 0 ? 'pro' : 3 };
      if (i % 8 === 7) attrs[`flag_${i % 5}`] = true;
      if (i % 12 === 11) attrs['email'] = null;
      entries.push({ type: 'identify', id: `i${i}`, user_id, received_at, attributes: attrs });
    } else {
      const metadata: Record<string, string | number> = { [`k${i % 6}`]: i, size: i * 10 };
      if (i % 5 === 0) metadata['name'] = `file-${i}.pdf`;
      entries.push({
        type: 'track',
        id: `t${i}`,
        name: EVENTS[i % EVENTS.length] ?? 'x',
        user_id,
        received_at,
        metadata,
        context: {},
      });
    }
  }
  return entries;
}

const record = async (entries: readonly LogEntry[]) => {
  await events.record(entries);
  await attributes.record(entries);
};

/** What a person composing a message sees of the catalogs. */
async function catalogs() {
  return {
    events: await Promise.all(EVENTS.map(async (name) => ({ name, keys: await events.keys(name) }))),
    attributes: await attributes.attributes(100),
  };
}

async function wipeRedis(): Promise<void> {
  const keys = await redis.keys(`${ns.name}:*`);
  if (keys.length > 0) await redis.del(...keys);
}

function rebuilder(holder: string, source: RecordedEntries = (until) => recorded.entriesBefore(until, 50)) {
  const lines: string[] = [];
  let clock = START + 10_000_000;
  const rebuild = new CatalogRebuilder({
    mark: new RedisCatalogMark(redis, ns),
    recorded: source,
    record,
    holder,
    // Each look is a new one: the clock moves past the interval between steps.
    now: () => (clock += 20_000),
    report: (line) => lines.push(line),
  });
  return { rebuild, lines };
}

const entries = traffic(600);

beforeAll(async () => {
  await migrateAudit(clickhouse, ns.database);
  await new ClickHouseAuditSink(clickhouse, ns.database).insertEntries(
    entries.map((entry, i) => ({ entry, partition: i % 4, seq: i + 1, position: 0 })),
  );
}, 60_000);

afterAll(async () => {
  await wipeRedis();
  await redis.quit();
  await clickhouse.command({ query: `DROP DATABASE IF EXISTS \`${ns.database}\`` });
  await clickhouse.close();
});

describe('the catalogs rebuilt from the recorded entries', () => {
  it('come back as the audit writer kept them once Redis lost them, and are rebuilt once', async () => {
    await record(entries);
    const kept = await catalogs();
    expect(kept.events.every((event) => event.keys.length >= 3)).toBe(true);
    expect(kept.attributes.map((a) => a.key)).toContain('plan');
    const { rebuild, lines } = rebuilder('a');
    // Built once (the namespace's first start), after which the mark says so.
    expect(await rebuild.step()).toBe(entries.length);
    expect(await rebuild.step()).toBe(0);
    expect(await catalogs()).toEqual(kept);

    await wipeRedis();
    expect((await catalogs()).attributes).toEqual([]);
    expect(await rebuild.step()).toBe(entries.length);
    expect(await catalogs()).toEqual(kept);
    expect(lines.filter((line) => line.startsWith('the catalogs rebuilt from 600 entries'))).toHaveLength(2);
  });

  it('is one process at a time, and a rebuild whose mark is lost on the way starts over', async () => {
    await wipeRedis();
    const kept = await (async () => {
      await record(entries);
      const all = await catalogs();
      await wipeRedis();
      return all;
    })();
    // Redis loses everything again while the rebuild reads its second batch.
    let batches = 0;
    const wipedOnce: RecordedEntries = async function* (until) {
      for await (const batch of recorded.entriesBefore(until, 50)) {
        yield batch;
        if (++batches === 1) await wipeRedis();
      }
    };
    const first = rebuilder('first', wipedOnce);
    const second = rebuilder('second');
    expect(await first.rebuild.step()).toBe(100);
    expect(first.lines.at(-1)).toContain('lost its claim after 100 entries');
    // Nothing claims the catalogs now: the next look (of either) rebuilds them whole.
    expect(await second.rebuild.step()).toBe(entries.length);
    expect(await first.rebuild.step()).toBe(0);
    expect(await catalogs()).toEqual(kept);
  });

  it('the mark: one claim at a time, renewed and ended only by its holder, lapsing when not renewed', async () => {
    await wipeRedis();
    const mark = new RedisCatalogMark(redis, ns);
    expect(await mark.claim('a', 200)).toBe('claimed');
    expect(await mark.claim('b', 200)).toBe('busy');
    expect(await mark.renew('b', 200)).toBe(false);
    expect(await mark.done('b')).toBe(false);
    expect(await mark.renew('a', 200)).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect(await mark.renew('a', 200)).toBe(false);
    expect(await mark.claim('b', 10_000)).toBe('claimed');
    expect(await mark.done('b')).toBe(true);
    expect(await mark.claim('a', 200)).toBe('built');
    // Built is lasting: no expiry.
    expect(await redis.pttl(`${ns.name}:catalogs`)).toBe(-1);
  });
});
