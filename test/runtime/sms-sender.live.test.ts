import { createServer } from 'node:http';
import type { IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createClient } from '@clickhouse/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrateAudit } from '../../pipeline/adapters/clickhouse/audit-schema.ts';
import { ClickHouseAuditSink } from '../../pipeline/adapters/clickhouse/clickhouse-audit-sink.ts';
import { TwilioSms } from '../../pipeline/adapters/http/twilio-sms.ts';
import { ensureDeliveriesStream } from '../../pipeline/adapters/nats/deliveries-stream.ts';
import { deliveryReader } from '../../pipeline/adapters/nats/stream-readers.ts';
import { RedisSentMarks } from '../../pipeline/adapters/redis/redis-sent-marks.ts';
import { RedisStateStore } from '../../pipeline/adapters/redis/redis-state-store.ts';
import { compileCaps } from '../../pipeline/core/caps.ts';
import type { LogEntry } from '../../pipeline/core/log-entry.ts';
import { buildRuleIndex } from '../../pipeline/core/rule-index.ts';
import type { Delivery } from '../../pipeline/ports/delivery.ts';
import { ChannelSender } from '../../pipeline/runtime/channel-sender.ts';
import { markedSend } from '../../pipeline/runtime/marked-send.ts';
import { smsChannel } from '../../pipeline/runtime/sms-channel.ts';
import { clickhouseClient } from '../clickhouse-cli.ts';
import { config, livePipeline } from './live-pipeline.ts';

const PARTITIONS = 4;
const SID = 'AC0123456789abcdef0123456789abcdef';
const TOKEN = 'secret-token';
const FROM = '+15005550006';
const clickhouse = createClient({ url: config.clickhouseUrl });
let live: Awaited<ReturnType<typeof livePipeline>>;
let sender: ChannelSender;
/** What the sender said of each delivery that failed for good. */
const reports: string[] = [];

/** One request the provider was asked, as it arrived. */
type Request = {
  readonly method: string | undefined;
  readonly path: string | undefined;
  readonly headers: IncomingHttpHeaders;
  readonly form: URLSearchParams;
};
const requests: Request[] = [];
const triesOf = (decisionId: string) =>
  requests.filter((r) => r.headers['i-twilio-idempotency-token'] === decisionId);

// A provider speaking Twilio's Messages API: +15550000002's first try is a 503 and +15550000003's a
// 429 (each then accepted), +15550000004 is refused with Twilio's 400 body every time, everyone else
// is queued with 201.
const provider = createServer((request, response) => {
  let body = '';
  request.on('data', (chunk: Buffer) => (body += chunk.toString()));
  request.on('end', () => {
    const form = new URLSearchParams(body);
    requests.push({ method: request.method, path: request.url, headers: request.headers, form });
    const to = form.get('To') ?? '';
    const tries = requests.filter((r) => r.form.get('To') === to).length;
    const [status, answer] =
      to === '+15550000002' && tries === 1
        ? [503, { code: 20500, message: 'Internal Server Error', status: 503 }]
        : to === '+15550000003' && tries === 1
          ? [429, { code: 20429, message: 'Too Many Requests', status: 429 }]
          : to === '+15550000004'
            ? [
                400,
                { code: 21211, message: `The 'To' number ${to} is not a valid phone number.`, status: 400 },
              ]
            : [
                201,
                {
                  sid: `SM${String(requests.length).padStart(32, '0')}`,
                  status: 'queued',
                  to,
                  body: form.get('Body'),
                },
              ];
    response.writeHead(status, { 'content-type': 'application/json' });
    response.end(JSON.stringify(answer));
  });
});

const delivery = (decision_id: string, user_id: string, subject: string | null, body: string): Delivery => ({
  decision_id,
  message_id: 'code',
  message_version: 1,
  user_id,
  channel: 'sms',
  at: 1_000,
  subject,
  body,
});
const deliveries = [
  delivery('code:s1', 'ada', 'Your code', 'Your code is 123456 — valid 10 min & single use'),
  delivery('code:s2', 'flaky', null, 'Hello again'),
  delivery('code:s3', 'limited', null, 'Slow down'),
  delivery('code:s4', 'invalid', null, 'Hello'),
  delivery('code:s5', 'nophone', null, 'Hello'),
];

const identify = (user_id: string, attributes: Record<string, string>): LogEntry => ({
  type: 'identify',
  id: `i-${user_id}`,
  user_id,
  received_at: 500,
  attributes,
});

beforeAll(async () => {
  live = await livePipeline(PARTITIONS);
  await ensureDeliveriesStream(live.jsm, live.ns);
  await migrateAudit(clickhouse, live.ns.database);
  await new Promise<void>((resolve) => provider.listen(0, '127.0.0.1', resolve));
  // The numbers reach the user states as they do in production: identify entries on the log,
  // decided by the matcher into Redis.
  await live.publish([
    identify('ada', { phone: ' +15550000001 ', first_name: 'Ada' }),
    identify('flaky', { phone: '+15550000002' }),
    identify('limited', { phone: '+15550000003' }),
    identify('invalid', { phone: '+15550000004' }),
    identify('nophone', { email: 'nophone@example.com', phone: '' }),
  ]);
  await live.decideAll({ index: buildRuleIndex([]), caps: compileCaps([]) }, 10);

  const { nc, jsm, ns } = live;
  const js = nc.jetstream();
  for (const d of deliveries)
    await js.publish(ns.deliverySubject('sms'), new TextEncoder().encode(JSON.stringify(d)), {
      msgID: d.decision_id,
    });
  // Another channel's delivery is not the SMS sender's to send.
  await js.publish(
    ns.deliverySubject('email'),
    new TextEncoder().encode(JSON.stringify({ ...deliveries[0], decision_id: 'code:e9', channel: 'email' })),
  );

  const port = (provider.address() as AddressInfo).port;
  // A trailing "/" on the base URL is allowed.
  const sms = new TwilioSms({
    baseUrl: `http://127.0.0.1:${port}/`,
    accountSid: SID,
    authToken: TOKEN,
    from: FROM,
  });
  const audit = new ClickHouseAuditSink(clickhouse, ns.database);
  let recorded = 0;
  // Composed as `nudge send sms` composes it.
  sender = new ChannelSender({
    reader: deliveryReader(js, jsm, ns, 'sms', 'sender_sms'),
    send: markedSend(
      smsChannel({ states: new RedisStateStore(live.redis, ns), partitions: PARTITIONS, provider: sms }),
      new RedisSentMarks(live.redis, ns, 'sms'),
    ),
    record: async (outcomes) => {
      await audit.insertOutcomes(outcomes);
      recorded += outcomes.length;
    },
    now: () => 5_000,
    backoffMs: 10,
    report: (line) => reports.push(line.trim()),
  });
  for (let step = 0; step < 40 && recorded < deliveries.length; step++) await sender.step();
}, 60_000);

afterAll(async () => {
  await new Promise<void>((resolve) => {
    provider.close(() => {
      resolve();
    });
  });
  await live.jsm.streams.delete(live.ns.deliveriesStream).catch(() => false);
  await clickhouse.command({ query: `DROP DATABASE IF EXISTS \`${live.ns.database}\`` });
  await clickhouse.close();
  await live.close();
});

describe('the SMS sender', () => {
  it('asks the provider once, as Twilio would be asked: path, Basic auth, form, idempotency token', () => {
    const [only, ...more] = triesOf('code:s1');
    expect(more).toEqual([]);
    expect(only?.method).toBe('POST');
    expect(only?.path).toBe(`/2010-04-01/Accounts/${SID}/Messages.json`);
    expect(only?.headers.authorization).toBe(`Basic ${Buffer.from(`${SID}:${TOKEN}`).toString('base64')}`);
    expect(only?.headers['content-type']).toBe('application/x-www-form-urlencoded');
    // The number as the user's state holds it, trimmed; the body alone, the subject not sent.
    expect(Object.fromEntries(only?.form ?? [])).toEqual({
      To: '+15550000001',
      From: FROM,
      Body: 'Your code is 123456 — valid 10 min & single use',
    });
  });

  it('records a delivered outcome with the provider status', async () => {
    expect(await outcome('code:s1')).toEqual([{ outcome: 'delivered', attempts: 1, status: 201 }]);
  });

  it('retries a 503 and delivers, every try carrying the same idempotency token', async () => {
    expect(triesOf('code:s2').map((r) => r.form.get('To'))).toEqual(['+15550000002', '+15550000002']);
    expect(await outcome('code:s2')).toEqual([{ outcome: 'delivered', attempts: 2, status: 201 }]);
  });

  it('retries a 429 and delivers', async () => {
    expect(triesOf('code:s3')).toHaveLength(2);
    expect(await outcome('code:s3')).toEqual([{ outcome: 'delivered', attempts: 2, status: 201 }]);
  });

  it('records a 400 as failed once and never asks again', async () => {
    expect(triesOf('code:s4')).toHaveLength(1);
    expect(await outcome('code:s4')).toEqual([{ outcome: 'failed', attempts: 1, status: 400 }]);
    // The reason is the provider's own message.
    expect(reports).toContain(
      "sms code:s4: failed after 1 try (400: The 'To' number +15550000004 is not a valid phone number. (code 21211))",
    );
  });

  it('fails a user with no phone number at once, without asking the provider', async () => {
    expect(triesOf('code:s5')).toEqual([]);
    expect(await outcome('code:s5')).toEqual([{ outcome: 'failed', attempts: 1, status: 0 }]);
    expect(reports).toContain('sms code:s5: failed after 1 try (0: no phone number)');
    expect(requests).toHaveLength(1 + 2 + 2 + 1);
  });

  it('records exactly one outcome a delivery, and none for another channel', async () => {
    const rows = await clickhouseClient<{ decision_id: string; outcome: string; channel: string }>(
      `SELECT decision_id, outcome, channel FROM \`${live.ns.database}\`.delivery_outcomes ORDER BY decision_id`,
    );
    expect(rows).toEqual([
      { decision_id: 'code:s1', outcome: 'delivered', channel: 'sms' },
      { decision_id: 'code:s2', outcome: 'delivered', channel: 'sms' },
      { decision_id: 'code:s3', outcome: 'delivered', channel: 'sms' },
      { decision_id: 'code:s4', outcome: 'failed', channel: 'sms' },
      { decision_id: 'code:s5', outcome: 'failed', channel: 'sms' },
    ]);
  });

  it('does not text a delivery the provider accepted again when it comes back (a crash before its ack)', async () => {
    const again = deliveries[0] as Delivery;
    await live.nc
      .jetstream()
      .publish(live.ns.deliverySubject('sms'), new TextEncoder().encode(JSON.stringify(again)), {
        msgID: `${again.decision_id}:again`,
      });
    expect(await sender.step()).toBe(1);
    expect(triesOf('code:s1')).toHaveLength(1);
    expect(await outcome('code:s1', 'FINAL')).toEqual([{ outcome: 'delivered', attempts: 1, status: 201 }]);
  });
});

async function outcome(decisionId: string, final: '' | 'FINAL' = '') {
  return clickhouseClient<{ outcome: string; attempts: number; status: number }>(
    `SELECT outcome, attempts, status FROM \`${live.ns.database}\`.delivery_outcomes ${final} WHERE decision_id = '${decisionId}'`,
  );
}
