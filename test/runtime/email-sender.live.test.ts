import type { AddressInfo } from 'node:net';
import { createClient } from '@clickhouse/client';
import { simpleParser } from 'mailparser';
import type { ParsedMail } from 'mailparser';
import { SMTPServer } from 'smtp-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrateAudit } from '../../pipeline/adapters/clickhouse/audit-schema.ts';
import { ClickHouseAuditSink } from '../../pipeline/adapters/clickhouse/clickhouse-audit-sink.ts';
import { ensureDeliveriesStream } from '../../pipeline/adapters/nats/deliveries-stream.ts';
import { deliveryReader } from '../../pipeline/adapters/nats/stream-readers.ts';
import { RedisStateStore } from '../../pipeline/adapters/redis/redis-state-store.ts';
import { messageId, SmtpMailer } from '../../pipeline/adapters/smtp/smtp-mailer.ts';
import { compileCaps } from '../../pipeline/core/caps.ts';
import type { LogEntry } from '../../pipeline/core/log-entry.ts';
import { buildRuleIndex } from '../../pipeline/core/rule-index.ts';
import type { Delivery } from '../../pipeline/ports/delivery.ts';
import { ChannelSender } from '../../pipeline/runtime/channel-sender.ts';
import { emailChannel } from '../../pipeline/runtime/email-channel.ts';
import { clickhouseClient } from '../clickhouse-cli.ts';
import { config, livePipeline } from './live-pipeline.ts';

const PARTITIONS = 4;
const clickhouse = createClient({ url: config.clickhouseUrl });
let live: Awaited<ReturnType<typeof livePipeline>>;
let mailer: SmtpMailer;

/** What the SMTP server was asked: RCPT TO commands per recipient, the Message-ID of each DATA per recipient, mails accepted. */
const rcpts = new Map<string, number>();
const dataTries = new Map<string, string[]>();
const accepted: ParsedMail[] = [];
const smtpError = (code: number, text: string) => Object.assign(new Error(text), { responseCode: code });

// A real SMTP server: refuses refuse@ at RCPT with 550 every time, answers flaky@'s first DATA with
// 451 then accepts, accepts everyone else.
const server = new SMTPServer({
  authOptional: true,
  disabledCommands: ['STARTTLS', 'AUTH'],
  logger: false,
  onRcptTo(address, _session, callback) {
    rcpts.set(address.address, (rcpts.get(address.address) ?? 0) + 1);
    callback(address.address.startsWith('refuse@') ? smtpError(550, 'no such mailbox') : undefined);
  },
  onData(stream, session, callback) {
    simpleParser(stream).then(
      (mail) => {
        const to = session.envelope.rcptTo.map((rcpt) => rcpt.address).join(',');
        dataTries.set(to, [...(dataTries.get(to) ?? []), mail.messageId ?? '']);
        if (to.startsWith('flaky@') && dataTries.get(to)?.length === 1) {
          callback(smtpError(451, 'try again later'));
          return;
        }
        accepted.push(mail);
        callback();
      },
      (error: unknown) => {
        callback(error as Error);
      },
    );
  },
});

const delivery = (decision_id: string, user_id: string, subject: string | null, body: string): Delivery => ({
  decision_id,
  message_id: 'welcome',
  message_version: 1,
  user_id,
  channel: 'email',
  at: 1_000,
  subject,
  body,
});
const BODY = 'Hi Ada,\n\nTerms & <conditions> changed.\nSee "settings".';
const deliveries = [
  delivery('welcome:e1', 'ada', 'Welcome, Ada', BODY),
  delivery('welcome:e2', 'flaky', null, 'Hello again'),
  delivery('welcome:e3', 'refused', 'Hi', 'Hello'),
  delivery('welcome:e4', 'nomail', 'Hi', 'Hello'),
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
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  // The addresses reach the user states as they do in production: identify entries on the log,
  // decided by the matcher into Redis.
  await live.publish([
    identify('ada', { email: 'ada@example.com', first_name: 'Ada' }),
    identify('flaky', { email: 'flaky@example.com' }),
    identify('refused', { email: 'refuse@example.com' }),
    identify('nomail', { plan: 'pro' }),
  ]);
  await live.decideAll({ index: buildRuleIndex([]), caps: compileCaps([]) }, 10);

  const { nc, jsm, ns } = live;
  const js = nc.jetstream();
  for (const d of deliveries)
    await js.publish(ns.deliverySubject('email'), new TextEncoder().encode(JSON.stringify(d)), {
      msgID: d.decision_id,
    });
  // Another channel's delivery is not the email sender's to send.
  await js.publish(ns.deliverySubject('webhook'), new TextEncoder().encode(JSON.stringify(deliveries[0])));

  const port = (server.server.address() as AddressInfo).port;
  mailer = new SmtpMailer({ url: `smtp://127.0.0.1:${port}`, from: '"Nudge" <no-reply@nudge.example>' });
  const audit = new ClickHouseAuditSink(clickhouse, ns.database);
  let recorded = 0;
  const sender = new ChannelSender({
    reader: deliveryReader(js, jsm, ns, 'email', 'sender_email'),
    send: emailChannel({ states: new RedisStateStore(live.redis, ns), partitions: PARTITIONS, mailer }),
    record: async (outcomes) => {
      await audit.insertOutcomes(outcomes);
      recorded += outcomes.length;
    },
    now: () => 5_000,
    backoffMs: 10,
  });
  for (let step = 0; step < 40 && recorded < deliveries.length; step++) await sender.step();
}, 60_000);

afterAll(async () => {
  mailer.close();
  await new Promise<void>((resolve) => {
    server.close(() => {
      resolve();
    });
  });
  await live.jsm.streams.delete(live.ns.deliveriesStream).catch(() => false);
  await clickhouse.command({ query: `DROP DATABASE IF EXISTS \`${live.ns.database}\`` });
  await clickhouse.close();
  await live.close();
});

describe('the email sender', () => {
  it('mails the address in the user state, with the subject, a text and an HTML part, and the headers', () => {
    const mail = accepted.find((m) => m.headers.get('x-nudge-decision-id') === 'welcome:e1');
    expect(mail?.to).toMatchObject({ text: 'ada@example.com' });
    expect(mail?.from).toMatchObject({ value: [{ address: 'no-reply@nudge.example', name: 'Nudge' }] });
    expect(mail?.subject).toBe('Welcome, Ada');
    expect(mail?.text?.trim()).toBe(BODY);
    expect(mail?.html).toContain(
      '<p style="margin:0 0 16px">Terms &amp; &lt;conditions&gt; changed.<br>\nSee &quot;settings&quot;.</p>',
    );
    expect(mail?.messageId).toBe(messageId('welcome:e1', 'nudge.example'));
  });

  it('retries a 451 and delivers, the retry carrying the same Message-ID; a null subject is the message id', async () => {
    const id = messageId('welcome:e2', 'nudge.example');
    expect(dataTries.get('flaky@example.com')).toEqual([id, id]);
    const mail = accepted.find((m) => m.headers.get('x-nudge-decision-id') === 'welcome:e2');
    expect(mail?.subject).toBe('welcome');
    expect(mail?.messageId).toBe(id);
    expect(await outcome('welcome:e2')).toEqual([{ outcome: 'delivered', attempts: 2, status: 250 }]);
  });

  it('records a 550 as failed once and never tries it again', async () => {
    expect(rcpts.get('refuse@example.com')).toBe(1);
    expect(await outcome('welcome:e3')).toEqual([{ outcome: 'failed', attempts: 1, status: 550 }]);
  });

  it('fails a user with no email address at once, without asking the server', async () => {
    expect(await outcome('welcome:e4')).toEqual([{ outcome: 'failed', attempts: 1, status: 0 }]);
    expect(accepted.map((m) => m.headers.get('x-nudge-decision-id')).sort()).toEqual([
      'welcome:e1',
      'welcome:e2',
    ]);
    expect([...rcpts.keys()].sort()).toEqual(['ada@example.com', 'flaky@example.com', 'refuse@example.com']);
  });

  it('takes a server that cannot be reached for a transient failure', async () => {
    const closed = new SMTPServer({ disabledCommands: ['STARTTLS', 'AUTH'], logger: false });
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.server.address() as AddressInfo).port;
    await new Promise<void>((resolve) => {
      closed.close(() => {
        resolve();
      });
    });
    const unreachable = new SmtpMailer({ url: `smtp://127.0.0.1:${port}`, from: 'no-reply@nudge.example' });
    try {
      expect(await unreachable.send(deliveries[0] as Delivery, 'ada@example.com')).toMatchObject({
        result: 'transient',
        status: 0,
      });
    } finally {
      unreachable.close();
    }
  });

  it('records exactly one outcome a delivery, and none for another channel', async () => {
    const rows = await clickhouseClient<{ decision_id: string; outcome: string; channel: string }>(
      `SELECT decision_id, outcome, channel FROM \`${live.ns.database}\`.delivery_outcomes ORDER BY decision_id`,
    );
    expect(rows).toEqual([
      { decision_id: 'welcome:e1', outcome: 'delivered', channel: 'email' },
      { decision_id: 'welcome:e2', outcome: 'delivered', channel: 'email' },
      { decision_id: 'welcome:e3', outcome: 'failed', channel: 'email' },
      { decision_id: 'welcome:e4', outcome: 'failed', channel: 'email' },
    ]);
  });
});

async function outcome(decisionId: string) {
  return clickhouseClient<{ outcome: string; attempts: number; status: number }>(
    `SELECT outcome, attempts, status FROM \`${live.ns.database}\`.delivery_outcomes WHERE decision_id = '${decisionId}'`,
  );
}
