import { createClient } from '@clickhouse/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runRolesOnThread } from '../../bin/roles-thread.ts';
import { NudgeMetrics } from '../../pipeline/runtime/metrics.ts';
import { config, livePipeline, onboarding } from './live-pipeline.ts';

// Issue #20: beside the matcher, `nudge start` runs the audit writers and the deliveries on a
// thread of their own. Here that thread, on the real services: it writes the log to ClickHouse,
// its lines and its writers' backlogs reach this thread, it stops when told, and roles that cannot
// start (a service down) are started again rather than ending the process and its matcher.

const clickhouse = createClient({ url: config.clickhouseUrl });
let live: Awaited<ReturnType<typeof livePipeline>>;
const savedEnv = { ...process.env };

beforeAll(async () => {
  live = await livePipeline(config.partitions);
});

afterAll(async () => {
  process.env = savedEnv;
  await clickhouse.command({ query: `DROP DATABASE IF EXISTS \`${live.ns.database}\`` });
  await clickhouse.close();
  await live.close();
});

describe('the roles thread', { timeout: 60_000 }, () => {
  it('writes the log to ClickHouse, tells its lines and backlogs, and stops when the signal aborts', async () => {
    const { entries } = await onboarding();
    await live.publish(entries);
    // A worker thread takes a copy of the environment when it starts.
    process.env['NUDGE_NAMESPACE'] = live.ns.name;
    const metrics = new NudgeMetrics();
    const lines: string[] = [];
    const stop = new AbortController();
    const running = runRolesOnThread(new Set(['audit']), stop.signal, (line) => lines.push(line), metrics);
    const count = async (query: string) => {
      const rows = await (await clickhouse.query({ query, format: 'JSONEachRow' })).json<{ n: string }>();
      return Number(rows[0]?.n);
    };
    // The thread makes the tables; until then the count is of nothing.
    const logged = async () =>
      (await count(
        `SELECT count() AS n FROM system.tables WHERE database = '${live.ns.database}' AND name = 'log_entries'`,
      )) === 0
        ? 0
        : count(`SELECT count() AS n FROM \`${live.ns.database}\`.log_entries FINAL`);
    await expect.poll(logged, { timeout: 30_000, interval: 250 }).toBe(entries.length);
    await expect
      .poll(async () => (await metrics.registry.metrics()).includes('writer="entries to ClickHouse"'), {
        timeout: 10_000,
      })
      .toBe(true);
    expect(lines.some((line) => line.includes(`started on ${live.ns.name}: audit`))).toBe(true);
    stop.abort();
    await expect(running).resolves.toBeUndefined();
    expect(lines.at(-1)).toBe('stopping');
  });

  it('starts its roles again while a service is down as it starts, and still stops when told', async () => {
    process.env['NUDGE_NAMESPACE'] = live.ns.name;
    process.env['NUDGE_CLICKHOUSE_URL'] = 'http://127.0.0.1:1';
    const lines: string[] = [];
    const stop = new AbortController();
    try {
      const running = runRolesOnThread(
        new Set(['audit']),
        stop.signal,
        (line) => lines.push(line),
        new NudgeMetrics(),
      );
      await expect
        .poll(() => lines.filter((line) => line.endsWith('; starting again')).length, { timeout: 20_000 })
        .toBeGreaterThanOrEqual(2);
      expect(lines[0]).toMatch(/^audit: .*ECONNREFUSED.*; starting again$/);
      stop.abort();
      await expect(running).resolves.toBeUndefined();
    } finally {
      stop.abort();
      process.env = { ...savedEnv };
    }
  });
});
