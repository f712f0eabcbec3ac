import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrateAudit } from '../../pipeline/adapters/clickhouse/audit-schema.ts';
import { ClickHouseAuditSink } from '../../pipeline/adapters/clickhouse/clickhouse-audit-sink.ts';
import { applyMessages, readCatalog } from '../../pipeline/adapters/nats/catalog-stream.ts';
import { compileCaps } from '../../pipeline/core/caps.ts';
import type { LogEntry } from '../../pipeline/core/log-entry.ts';
import { MessageSchema } from '../../pipeline/core/message-schema.ts';
import { buildRuleIndex } from '../../pipeline/core/rule-index.ts';
import { Replayer } from '../../pipeline/replay/replayer.ts';
import { apiFixture } from './api-fixture.ts';

const MINUTE = 60_000;
const T0 = Date.UTC(2026, 10, 2, 9);
let api: Awaited<ReturnType<typeof apiFixture>>;

const nudge = {
  id: 'nudge',
  channel: 'banner',
  state: 'live',
  live_since: T0 - MINUTE,
  trigger: { event: 'upload' },
  frequency: { min_interval: '1h' },
  template: { body: 'ready' },
};

beforeAll(async () => {
  api = await apiFixture();
  await migrateAudit(api.clickhouse, api.ns.database);
  const jsm = await api.nc.jetstreamManager();
  await applyMessages(api.nc.jetstream(), jsm, api.ns, [MessageSchema.parse(nudge)], T0);
  const catalog = await readCatalog(jsm, api.ns);
  const replayer = new Replayer(buildRuleIndex(catalog.messages), compileCaps([]));
  // One user uploading every 20 minutes, each entry its own log message of partition 0.
  const log: LogEntry[] = [0, 20, 40, 60, 80].map((minute) => ({
    type: 'track',
    id: `a${minute}`,
    name: 'upload',
    user_id: 'u1',
    received_at: T0 + minute * MINUTE,
  }));
  const audit = new ClickHouseAuditSink(api.clickhouse, api.ns.database);
  for (const [i, entry] of log.entries()) {
    await audit.insertEntries([{ entry, partition: 0, seq: i + 1, position: 0 }]);
    await audit.insertDecisions(
      replayer.apply(entry).map((decision) => ({ decision, partition: 0, seq: i + 1 })),
    );
  }
}, 60_000);

afterAll(async () => {
  await api.close();
});

async function call(method: 'GET' | 'POST', url: string, payload?: object) {
  const response = await api.app.inject({
    method,
    url,
    headers: { authorization: `Bearer ${api.keys.admin}` },
    ...(payload === undefined ? {} : { payload }),
  });
  return { status: response.statusCode, body: JSON.parse(response.body) as Record<string, unknown> };
}

async function finished(url: string): Promise<Record<string, unknown>> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const { body } = await call('GET', url);
    if (body['status'] !== 'running' || Date.now() > deadline) return body;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe('replays over HTTP', { timeout: 60_000 }, () => {
  it('POST /v1/replays answers 202 with the replay, whose report a GET gives once done', async () => {
    const started = await call('POST', '/v1/replays', {
      from: '2026-11-02T09:00:00Z',
      to: T0 + 2 * 60 * MINUTE,
      messages: [{ ...nudge, frequency: { min_interval: '30m' } }],
    });
    expect(started.status).toBe(202);
    expect(started.body).toMatchObject({
      status: 'running',
      url: expect.stringMatching(/^\/v1\/replays\/r_[0-9a-f]{16}$/) as string,
    });
    const done = await finished(String(started.body['url']));
    expect(done).toMatchObject({ status: 'done', kind: 'replay', entries_done: 5, entries_total: 5 });
    const report = done['report'] as { flips: { kinds: Record<string, number> }; identical: boolean };
    // Sent at 0 and 60 with 1h; at 0, 40 and 80 with 30m.
    expect(report.flips.kinds).toEqual({ 'suppressed→sent': 2, 'sent→suppressed': 1 });
    expect(report.identical).toBe(false);
  });

  it('scope "affected" replays only the users of the draft\'s trigger, with the same changes', async () => {
    const body = {
      from: T0,
      to: T0 + 2 * 60 * MINUTE,
      messages: [{ ...nudge, frequency: { min_interval: '30m' } }],
    };
    const all = await finished(String((await call('POST', '/v1/replays', body)).body['url']));
    const started = await call('POST', '/v1/replays', { ...body, scope: 'affected' });
    expect(started.status).toBe(202);
    const affected = await finished(String(started.body['url']));
    const report = affected['report'] as Record<string, unknown>;
    expect(report['scope']).toEqual({ events: ['upload'], users: 1, window_entries: 5 });
    expect(report['flips']).toEqual((all['report'] as Record<string, unknown>)['flips']);
    expect((await call('POST', '/v1/replays', { ...body, scope: 'some' })).status).toBe(400);
  });

  it('POST /v1/replays/sweep tries each value', async () => {
    const started = await call('POST', '/v1/replays/sweep', {
      from: T0,
      to: T0 + 2 * 60 * MINUTE,
      message: 'nudge',
      limit: 'min_interval',
      values: ['15m', '1h', 7_200_000],
    });
    expect(started.status).toBe(202);
    const done = await finished(String(started.body['url']));
    const report = done['report'] as { points: { value: number; sent: number }[] };
    expect(report.points.map((p) => [p.value, p.sent])).toEqual([
      [15 * MINUTE, 5],
      [60 * MINUTE, 2],
      [120 * MINUTE, 1],
    ]);
  });

  it('answers 400 naming the problem, 404 for a replay nobody made', async () => {
    const bad = await call('POST', '/v1/replays', {
      from: T0,
      to: T0 + 1,
      messages: [{ ...nudge, frequency: { min_interval: 'soon' } }],
    });
    expect(bad.status).toBe(400);
    expect(JSON.stringify(bad.body)).toMatch(
      /messages\.0\.frequency\.min_interval|messages\[0\]\.frequency\.min_interval/,
    );
    expect((await call('POST', '/v1/replays', { from: T0, to: T0 })).status).toBe(400);
    expect((await call('POST', '/v1/replays/sweep', { from: T0, to: T0 + 1, values: ['1h'] })).status).toBe(
      400,
    );
    expect((await call('GET', '/v1/replays/r_ffffffffffffffff')).status).toBe(404);
    expect((await call('GET', '/v1/replays/nope')).status).toBe(400);
  });
});
