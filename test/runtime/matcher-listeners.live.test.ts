import { randomUUID } from 'node:crypto';
import { getEventListeners } from 'node:events';
import { ClickHouseLogLevel, createClient } from '@clickhouse/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runMatcher } from '../../bin/start-command.ts';
import { applyMessages, ensureCatalogStream } from '../../pipeline/adapters/nats/catalog-stream.ts';
import { connectNats } from '../../pipeline/adapters/nats/connect-nats.ts';
import { ensureLogStream, LogPublisher } from '../../pipeline/adapters/nats/log-stream.ts';
import type { Config } from '../../pipeline/config/load-config.ts';
import { loadConfig } from '../../pipeline/config/load-config.ts';
import type { LogEntry } from '../../pipeline/core/log-entry.ts';
import { MessageSchema } from '../../pipeline/core/message-schema.ts';
import { Namespace } from '../../pipeline/namespace.ts';
import { NudgeMetrics } from '../../pipeline/runtime/metrics.ts';

// Issue #20: no listener or timer leak on the matcher's paths. `nudge start`'s matcher (8
// partitions, its audit writers, releaser and inbox writer) decides many batches while the test watches the
// listeners on its stop signal, Node's warnings, and the timers the process holds.

const PARTITIONS = 8;
const ROUNDS = 30;
const PER_ROUND = 200;
const ns = new Namespace(`t_${randomUUID().replaceAll('-', '').slice(0, 20)}`);
const stop = new AbortController();
const reports: string[] = [];
const warnings: Error[] = [];
const onWarning = (warning: Error) => warnings.push(warning);
let config: Config;
let running: Promise<unknown>;

const metrics = new NudgeMetrics();
let decisions = 0;
const timers = () => process.getActiveResourcesInfo().filter((kind) => kind === 'Timeout').length;
/** Decisions made so far (one an entry here): what the matcher's metrics counted. */
const count = async () => {
  const { values } = await metrics.decisions.get();
  decisions = values.reduce((sum, v) => sum + v.value, 0);
};

async function until(done: () => boolean, what: string, ms = 90_000): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    await count();
    if (done()) return;
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${what}:\n${reports.slice(-5).join('\n')}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

beforeAll(async () => {
  config = loadConfig({ ...process.env, NUDGE_NAMESPACE: ns.name, NUDGE_PARTITIONS: String(PARTITIONS) });
  process.on('warning', onWarning);
  const nc = await connectNats(config.natsUrl, 'listener test');
  const jsm = await nc.jetstreamManager();
  await ensureCatalogStream(jsm, ns);
  await ensureLogStream(jsm, ns, PARTITIONS);
  await applyMessages(
    nc.jetstream(),
    jsm,
    ns,
    [
      MessageSchema.parse({
        id: 'ping',
        channel: 'banner',
        state: 'live',
        trigger: { event: 'ping' },
        frequency: { min_interval: '1m' },
        template: { body: 'pong' },
      }),
    ],
    Date.now(),
  );
  await nc.drain();
  running = runMatcher(config, stop.signal, (line) => reports.push(line), metrics);
}, 60_000);

afterAll(async () => {
  stop.abort();
  await running.catch(() => undefined);
  process.off('warning', onWarning);
  const nc = await connectNats(config.natsUrl, 'listener test cleanup');
  const jsm = await nc.jetstreamManager();
  for (const stream of (await jsm.streams.names().next()).filter((name) =>
    name.startsWith(ns.name.toUpperCase()),
  ))
    await jsm.streams.delete(stream).catch(() => false);
  await nc.drain();
  const clickhouse = createClient({ url: config.clickhouseUrl, log: { level: ClickHouseLogLevel.OFF } });
  await clickhouse.command({ query: `DROP DATABASE IF EXISTS \`${ns.database}\`` });
  await clickhouse.close();
}, 60_000);

describe('the matcher over many batches', { timeout: 180_000 }, () => {
  it('holds one listener on its stop signal, warns of none, and its timers do not grow with the batches', async () => {
    const nc = await connectNats(config.natsUrl, 'listener test publisher');
    const publisher = new LogPublisher(nc.jetstream(), ns, PARTITIONS);
    let mostListeners = 0;
    const watch = setInterval(() => {
      mostListeners = Math.max(mostListeners, getEventListeners(stop.signal, 'abort').length);
    }, 10);
    const timersAfter: number[] = [];
    try {
      for (let round = 0; round < ROUNDS; round++) {
        const entries: LogEntry[] = Array.from({ length: PER_ROUND }, (_, i) => ({
          type: 'track',
          id: `r${round}-${i}`,
          name: 'ping',
          user_id: `u${(round * PER_ROUND + i) % 500}`,
          received_at: Date.now(),
        }));
        await publisher.publish(entries);
        await publisher.flush();
        // Each round decided before the next: many small batches on every partition.
        await until(() => decisions >= (round + 1) * PER_ROUND, `round ${round + 1} decided`);
        timersAfter.push(timers());
      }
    } finally {
      clearInterval(watch);
      await nc.drain();
    }
    expect(decisions).toBe(ROUNDS * PER_ROUND);
    // runMatcher's own listener (Pauses); runTogether's, when `nudge start` runs it, is on its own signal.
    expect(mostListeners).toBeLessThanOrEqual(1);
    expect(warnings.filter((w) => w.name === 'MaxListenersExceededWarning')).toEqual([]);
    // A timer left behind a batch would grow with the rounds: the last third holds no more than the first.
    const third = Math.floor(ROUNDS / 3);
    const early = Math.max(...timersAfter.slice(0, third));
    const late = Math.max(...timersAfter.slice(-third));
    expect(late, `timers after each round: ${timersAfter.join(', ')}`).toBeLessThanOrEqual(early);
  });
});
