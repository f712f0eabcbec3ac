import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createClient } from '@clickhouse/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrateAudit } from '../../pipeline/adapters/clickhouse/audit-schema.ts';
import { ClickHouseAuditSink } from '../../pipeline/adapters/clickhouse/clickhouse-audit-sink.ts';
import { webhookEndpoint } from '../../pipeline/adapters/http/webhook-endpoint.ts';
import { ensureDeliveriesStream } from '../../pipeline/adapters/nats/deliveries-stream.ts';
import { deliveryReader } from '../../pipeline/adapters/nats/stream-readers.ts';
import type { Delivery } from '../../pipeline/ports/delivery.ts';
import { WebhookSender } from '../../pipeline/runtime/webhook-sender.ts';
import { config, livePipeline } from './live-pipeline.ts';

const clickhouse = createClient({ url: config.clickhouseUrl });
let live: Awaited<ReturnType<typeof livePipeline>>;
const seen = new Map<string, { count: number; keys: string[] }>();
// Fails each delivery's first try with 503, refuses "bad" with 400 for good, then accepts.
const server = createServer((request, response) => {
  let body = '';
  request.on('data', (chunk: Buffer) => (body += chunk.toString()));
  request.on('end', () => {
    const delivery = JSON.parse(body) as Delivery;
    const record = seen.get(delivery.decision_id) ?? { count: 0, keys: [] };
    record.count++;
    record.keys.push(String(request.headers['idempotency-key']));
    seen.set(delivery.decision_id, record);
    response.statusCode = delivery.decision_id.startsWith('bad') ? 400 : record.count === 1 ? 503 : 200;
    response.end();
  });
});

beforeAll(async () => {
  live = await livePipeline(1);
  await ensureDeliveriesStream(live.jsm, live.ns);
  await migrateAudit(clickhouse, live.ns.database);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
});

afterAll(async () => {
  server.close();
  await live.jsm.streams.delete(live.ns.deliveriesStream).catch(() => false);
  await clickhouse.command({ query: `DROP DATABASE IF EXISTS \`${live.ns.database}\`` });
  await clickhouse.close();
  await live.close();
});

describe('the webhook sender', () => {
  it('delivers with retries and backoff, fails what the endpoint refuses, and records every outcome', async () => {
    const { nc, jsm, ns } = live;
    const js = nc.jetstream();
    const deliveries = ['m:e1', 'm:e2', 'bad:e3'].map((decision_id): Delivery => ({
      decision_id,
      message_id: 'm',
      message_version: 1,
      user_id: 'u',
      channel: 'webhook',
      at: 1_000,
      subject: null,
      body: 'hi',
    }));
    for (const d of deliveries)
      await js.publish(ns.deliverySubject('webhook'), new TextEncoder().encode(JSON.stringify(d)), {
        msgID: d.decision_id,
      });
    // Another channel's delivery is not the webhook sender's to send.
    await js.publish(
      ns.deliverySubject('email'),
      new TextEncoder().encode(JSON.stringify({ ...deliveries[0], decision_id: 'x:e9', channel: 'email' })),
    );

    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
    const audit = new ClickHouseAuditSink(clickhouse, ns.database);
    const sender = new WebhookSender({
      reader: deliveryReader(js, jsm, ns, 'webhook', 'sender_webhook'),
      post: webhookEndpoint(url),
      record: async (outcomes) => {
        await audit.insertOutcomes(outcomes);
        recorded += outcomes.length;
      },
      now: () => 5_000,
      backoffMs: 10,
    });
    let recorded = 0;
    for (let step = 0; step < 30 && recorded < deliveries.length; step++) await sender.step();

    const result = await clickhouse.query({
      query: `SELECT decision_id, outcome, attempts, status, reason, latency_ms FROM \`${ns.database}\`.delivery_outcomes FINAL ORDER BY decision_id`,
      format: 'JSONEachRow',
    });
    expect(await result.json()).toEqual([
      {
        decision_id: 'bad:e3',
        outcome: 'failed',
        attempts: 1,
        status: 400,
        reason: 'the endpoint answered 400',
        latency_ms: '4000',
      },
      { decision_id: 'm:e1', outcome: 'delivered', attempts: 2, status: 200, reason: '', latency_ms: '4000' },
      { decision_id: 'm:e2', outcome: 'delivered', attempts: 2, status: 200, reason: '', latency_ms: '4000' },
    ]);
    expect(seen.get('m:e1')?.keys).toEqual(['m:e1', 'm:e1']);
    expect(seen.has('x:e9')).toBe(false);
  });
});
