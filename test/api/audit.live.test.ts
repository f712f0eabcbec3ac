import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runMatcher } from '../../bin/start-command.ts';
import { LogPublisher } from '../../pipeline/adapters/nats/log-stream.ts';
import { loadConfig } from '../../pipeline/config/load-config.ts';
import { apiFixture, NOW, PARTITIONS } from './api-fixture.ts';

let api: Awaited<ReturnType<typeof apiFixture>>;
const stop = new AbortController();
let matcher: Promise<void>;

beforeAll(async () => {
  api = await apiFixture();
  const config = { ...loadConfig(process.env), namespace: api.ns.name, partitions: PARTITIONS };
  const created = await call('POST', '/v1/messages', {
    id: 'upload-ready',
    channel: 'banner',
    state: 'live',
    trigger: {
      event: 'upload_completed',
      where: { field: 'metadata.file_name', op: 'ends_with', value: '.pdf' },
    },
    frequency: { min_interval: '1h' },
    template: { body: 'Your file {{ metadata.file_name }} is ready' },
  });
  expect(created.status).toBe(201);
  // One registry for the API and the matcher, as `nudge start` has.
  matcher = runMatcher(config, stop.signal, () => undefined, api.metrics);
});

afterAll(async () => {
  stop.abort();
  await matcher;
  await api.close();
});

async function call(method: 'GET' | 'POST', url: string, payload?: unknown) {
  const response = await api.app.inject({
    method,
    url,
    headers: { authorization: `Bearer ${api.keys.admin}` },
    ...(payload === undefined ? {} : { payload: payload as object }),
  });
  return { status: response.statusCode, body: JSON.parse(response.body) as Record<string, unknown> };
}

type Audited = {
  decision_id: string;
  outcome: string;
  reason: string | null;
  explanation: string;
  content: unknown;
  deliver_at: number | null;
};

async function decisionsOf(user: string, query = '', count = 1): Promise<Audited[]> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const { body } = await call('GET', `/v1/users/${user}/decisions${query}`);
    const decisions = (body['decisions'] ?? []) as Audited[];
    if (decisions.length >= count || Date.now() > deadline) return decisions;
    await new Promise((resolve) => setTimeout(resolve, 300));
  }
}

describe(
  'ingest over HTTP, then ask why through the audit endpoints (a live matcher, ClickHouse)',
  { timeout: 120_000 },
  () => {
    it('shows the send, the suppression that follows and the filtered entry, newest first, with explanations', async () => {
      const events = [
        {
          type: 'track',
          id: 'a1',
          name: 'upload_completed',
          user_id: 'u1',
          metadata: { file_name: 'q3.pdf' },
        },
        {
          type: 'track',
          id: 'a2',
          name: 'upload_completed',
          user_id: 'u1',
          metadata: { file_name: 'q4.pdf' },
        },
        {
          type: 'track',
          id: 'a3',
          name: 'upload_completed',
          user_id: 'u1',
          metadata: { file_name: 'cat.png' },
        },
      ];
      expect((await call('POST', '/v1/events', { events })).status).toBe(202);
      const decisions = await decisionsOf('u1', '', 3);
      // Same received_at (the fixture's clock): newest first means by decision id, descending.
      expect(decisions.map((d) => [d.decision_id, d.outcome, d.reason])).toEqual([
        ['upload-ready:a3', 'filtered', 'event_filter'],
        ['upload-ready:a2', 'suppressed', 'min_interval'],
        ['upload-ready:a1', 'sent', null],
      ]);
      expect(decisions[2]?.content).toEqual({ subject: null, body: 'Your file q3.pdf is ready' });
      // Sent at once: no delivery time of its own.
      expect(decisions[2]?.deliver_at).toBeNull();
      expect(decisions[1]?.explanation).toMatch(/less than the minimum interval of 1h/);
      expect(decisions[0]?.explanation).toMatch(/metadata.file_name/);

      const sent = await call('GET', '/v1/users/u1/decisions?outcome=sent');
      expect((sent.body['decisions'] as Audited[]).map((d) => d.decision_id)).toEqual(['upload-ready:a1']);
      const first = await call('GET', '/v1/users/u1/decisions?limit=2');
      expect((first.body['decisions'] as Audited[]).length).toBe(2);
      const next = first.body['next'];
      expect(typeof next).toBe('string');
      const second = await call('GET', `/v1/users/u1/decisions?limit=2&before=${String(next)}`);
      expect((second.body['decisions'] as Audited[]).map((d) => d.decision_id)).toEqual(['upload-ready:a1']);
      expect(second.body['next']).toBeNull();
      expect((await call('GET', '/v1/users/u1/decisions?before=garbage')).status).toBe(400);

      const metrics = (await api.app.inject({ method: 'GET', url: '/metrics' })).body;
      expect(metrics).toContain('nudge_ingested_entries_total{status="accepted"} 3');
      expect(metrics).toContain('nudge_decisions_total{outcome="sent",reason="none"} 1');
      expect(metrics).toContain('nudge_decisions_total{outcome="suppressed",reason="min_interval"} 1');
      expect(metrics).toMatch(/nudge_batch_seconds_count [1-9]/);
      expect(metrics).toMatch(/nudge_partition_lag_messages\{partition="\d"\} 0/);
      expect(metrics).toMatch(/nudge_writer_backlog_messages\{writer="decisions to ClickHouse"\} \d+/);
    });

    it('drops an entry stored again (a retry through another API process): one decision, one repeat counted', async () => {
      await decisionsOf('u1', '', 3);
      // What another API process stores for a client's retry of a1: the same entry, stamped anew,
      // packed with another request's entry, so JetStream sees a new message.
      const publisher = new LogPublisher(api.nc.jetstream(), api.ns, PARTITIONS);
      const later = {
        type: 'track',
        name: 'upload_completed',
        user_id: 'u1',
        received_at: NOW + 1_000,
      } as const;
      await publisher.publish([
        { ...later, id: 'a1', metadata: { file_name: 'q3.pdf' } },
        { ...later, id: 'r1', metadata: { file_name: 'r1.png' } },
      ]);
      await publisher.flush();
      const decisions = await decisionsOf('u1', '', 4);
      expect(decisions.map((d) => d.decision_id)).toEqual([
        'upload-ready:r1',
        'upload-ready:a3',
        'upload-ready:a2',
        'upload-ready:a1',
      ]);
      const metrics = (await api.app.inject({ method: 'GET', url: '/metrics' })).body;
      expect(metrics).toContain('nudge_repeated_entries_total 1');
    });

    it('answers eligibility from the state: not until the minimum interval has passed', async () => {
      await decisionsOf('u1', '?outcome=sent');
      const answer = await call('GET', '/v1/users/u1/eligibility?message=upload-ready');
      expect(answer.body).toMatchObject({
        eligible: false,
        reason: 'min_interval',
        eligible_at: NOW + 3_600_000,
        message_version: 1,
      });
      const stranger = await call('GET', '/v1/users/nobody/eligibility?message=upload-ready');
      expect(stranger.body).toMatchObject({ eligible: true, reason: null });
      expect((await call('GET', '/v1/users/u1/eligibility?message=nope')).status).toBe(404);
    });

    it('lists the events seen with counts, last seen and their usable metadata keys with the types seen', async () => {
      const events = [
        {
          type: 'track',
          id: 'c1',
          name: 'checkout',
          user_id: 'u2',
          metadata: { amount: 5, currency: 'EUR', coupon: null },
        },
        {
          type: 'track',
          id: 'c2',
          name: 'checkout',
          user_id: 'u3',
          metadata: { amount: 'n/a', currency: 'USD' },
        },
      ];
      expect((await call('POST', '/v1/events', { events })).status).toBe(202);
      type Summary = {
        name: string;
        entries: number;
        last_seen: number;
        metadata_keys: { key: string; types: string[] }[];
      };
      const deadline = Date.now() + 60_000;
      let listed: Summary[] = [];
      while (Date.now() < deadline) {
        listed = (await call('GET', '/v1/catalog/events')).body['events'] as Summary[];
        if (listed.find((e) => e.name === 'checkout')?.entries === 2) break;
        await new Promise((resolve) => setTimeout(resolve, 300));
      }
      expect(listed.find((e) => e.name === 'checkout')).toEqual({
        name: 'checkout',
        entries: 2,
        last_seen: NOW,
        metadata_keys: [
          { key: 'amount', types: ['number', 'string'] },
          { key: 'currency', types: ['string'] },
          { key: 'coupon', types: ['null'] },
        ],
      });
      // a1, a2, a3 and r1: a1 stored twice is one entry.
      expect(listed.find((e) => e.name === 'upload_completed')).toMatchObject({
        entries: 4,
        metadata_keys: [{ key: 'file_name', types: ['string'] }],
      });
    });
  },
);
