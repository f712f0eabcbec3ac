import { randomUUID } from 'node:crypto';
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ClickHouseLogLevel, createClient } from '@clickhouse/client';
import { Redis } from 'ioredis';
import { simpleParser } from 'mailparser';
import type { ParsedMail } from 'mailparser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newApiKey } from '../../api/auth/api-keys.ts';
import { PIXEL } from '../../api/routes/track/track.routes.ts';
import { runApi } from '../../bin/api-command.ts';
import { emailChannelFor, runSender } from '../../bin/send-command.ts';
import { runMatcher } from '../../bin/start-command.ts';
import { connectNats } from '../../pipeline/adapters/nats/connect-nats.ts';
import { RedisKeyStore } from '../../pipeline/adapters/redis/redis-key-store.ts';
import { startMailSink } from '../../pipeline/adapters/smtp/mail-sink.ts';
import type { MailSink } from '../../pipeline/adapters/smtp/mail-sink.ts';
import type { Config } from '../../pipeline/config/load-config.ts';
import { loadConfig } from '../../pipeline/config/load-config.ts';
import { Namespace } from '../../pipeline/namespace.ts';

/**
 * Issue #17's acceptance for the unsubscribe link, on the real NATS, Redis and ClickHouse and a
 * real SMTP server: the matcher (with its audit writers, putting its sends on the deliveries
 * stream), the API and the email sender run in this process as `nudge start` and `nudge send
 * email` run them. A mail
 * arrives with its unsubscribe headers and footer; following the link as a mailbox provider does
 * (one POST, no key) makes the next decision `suppressed`/`unsubscribed`; a replay of the
 * recorded window decides exactly as live did; a forged link is refused and leaves nothing.
 */
const ns = new Namespace(`t_${randomUUID().replaceAll('-', '').slice(0, 20)}`);
/** Where the run leaves the mail it received, to be opened in a mail program. */
const MAIL_COPY = new URL('../../.data/screenshots/unsubscribe-mail.eml', import.meta.url).pathname;
const stop = new AbortController();
const reports: string[] = [];
let config: Config;
let sink: MailSink;
let mailDir: string;
let running: Promise<unknown>;
let api = '';
const keys = { admin: '', ingest: '' };
const startedAt = Date.now();
const clickhouse = createClient({
  url: loadConfig(process.env).clickhouseUrl,
  log: { level: ClickHouseLogLevel.OFF },
});

const WEEKLY_TIP = {
  id: 'weekly-tip',
  name: 'Weekly tip',
  channel: 'email',
  state: 'live',
  trigger: { event: 'tip-due' },
  template: {
    subject: 'Your weekly tip, {{ user.first_name }}',
    body: 'Hi {{ user.first_name }},\n\nThis week: press "?" anywhere to see every shortcut.',
  },
};

beforeAll(async () => {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    NUDGE_NAMESPACE: ns.name,
    NUDGE_PARTITIONS: '2',
    NUDGE_API_HOST: '127.0.0.1',
    NUDGE_API_PORT: String(await freePort()),
  };
  // The links' base is the API's own address, as it is by default.
  delete env['NUDGE_PUBLIC_URL'];
  config = loadConfig(env);
  mailDir = await mkdtemp(join(tmpdir(), 'nudge-unsubscribe-'));
  sink = await startMailSink(mailDir);
  // Keys made where a deployment from before the durable store kept them: the API adopts them.
  const redis = new Redis(config.redisUrl);
  const store = new RedisKeyStore(redis, ns);
  for (const scope of ['admin', 'ingest'] as const) {
    const made = newApiKey();
    await store.put({
      id: made.id,
      name: scope,
      scopes: [scope],
      hash: made.hash,
      created_at: 0,
      revoked_at: null,
    });
    keys[scope] = made.key;
  }
  await redis.quit();

  const report = (role: string) => (line: string) => reports.push(`${role}: ${line}`);
  let listening: (address: string) => void = () => undefined;
  const listens = new Promise<string>((resolve) => (listening = resolve));
  const email = await emailChannelFor(
    { smtp: sink.url, from: '"Acme Files" <no-reply@acme.example>' },
    config,
    ns,
  );
  running = Promise.allSettled([
    runMatcher(config, stop.signal, report('matcher')),
    runApi(config, stop.signal, report('api'), undefined, (address) => {
      listening(address);
      return Promise.resolve();
    }),
    runSender('email', email, config, ns, stop.signal, report('sender')).finally(() => email.close()),
  ]);
  api = await listens;
  const created = await call('POST', '/v1/messages', keys.admin, WEEKLY_TIP);
  expect(created.status, created.text).toBe(201);
  // The matcher decides with the message only once it has read it from the catalog.
  await until(
    () => reports.some((line) => line.includes('rules: 1 live')),
    'the matcher to load the message',
  );
}, 120_000);

afterAll(async () => {
  stop.abort();
  await running;
  await sink.close();
  await rm(mailDir, { recursive: true, force: true });
  const nc = await connectNats(config.natsUrl, 'unsubscribe test cleanup');
  const jsm = await nc.jetstreamManager();
  for (const stream of ns.streams) await jsm.streams.delete(stream).catch(() => false);
  await nc.drain();
  const redis = new Redis(config.redisUrl);
  const left = await redis.keys(`${ns.name}:*`);
  if (left.length > 0) await redis.del(...left);
  await redis.quit();
  await clickhouse.command({ query: `DROP DATABASE IF EXISTS \`${ns.database}\`` });
  await clickhouse.close();
}, 60_000);

describe('the email unsubscribe link, end to end', { timeout: 120_000 }, () => {
  let mail: ParsedMail;
  let link = '';

  it('an event mails the rendered message, with both unsubscribe headers and the link in both parts', async () => {
    const identified = await call('POST', '/v1/users/ada', keys.ingest, {
      attributes: { email: 'ada@example.com', first_name: 'Ada' },
    });
    expect(identified.status, identified.text).toBe(202);
    await track('tip-1');
    // Delivered once the server answered 250, which it does only when the whole mail is written.
    await until(async () => {
      const outcomes = await query<{ outcome: string }>(
        `SELECT outcome FROM \`${ns.database}\`.delivery_outcomes WHERE decision_id = 'weekly-tip:tip-1'`,
      );
      return outcomes[0]?.outcome === 'delivered' ? true : undefined;
    }, 'the mail to be delivered');
    const files = await readdir(mailDir);
    expect(files).toHaveLength(1);
    const eml = join(mailDir, files[0] ?? '');
    await mkdir(join(MAIL_COPY, '..'), { recursive: true });
    await copyFile(eml, MAIL_COPY);
    mail = await simpleParser(await readFile(eml));

    expect(mail.to).toMatchObject({ text: 'ada@example.com' });
    expect(mail.subject).toBe('Your weekly tip, Ada');
    // The headers as written (RFC 8058 §3.1), folded or not.
    expect(header(mail, 'list-unsubscribe-post')).toBe('List-Unsubscribe=One-Click');
    link = /^<(.+)>$/.exec(header(mail, 'list-unsubscribe'))?.[1] ?? '';
    expect(link).toMatch(
      new RegExp(`^${config.publicUrl}/v1/unsubscribe/[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]{43}$`),
    );
    expect(config.publicUrl).toBe(api);
    expect(mail.text).toBe(
      `Hi Ada,\n\nThis week: press "?" anywhere to see every shortcut.\n\n-- \nDon’t want these emails? Unsubscribe:\n${link}\n`,
    );
    expect(mail.html).toContain(
      '<p style="margin:0 0 16px">This week: press &quot;?&quot; anywhere to see every shortcut.</p>',
    );
    expect(mail.html).toContain(`Don’t want these emails? <a href="${link}"`);
  });

  it('the HTML part ends with a 1×1 open pixel; loading it twice records the open once (seen, email)', async () => {
    const pixel = new RegExp(
      `<img src="(${config.publicUrl}/v1/track/[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]{43}/open\\.gif)" alt="" width="1" height="1" [^>]*>\n</body>`,
    ).exec(typeof mail.html === 'string' ? mail.html : '');
    const url = pixel?.[1] ?? '';
    expect(url, typeof mail.html === 'string' ? mail.html : '').not.toBe('');
    // Not in the text part, which shows no images.
    expect(mail.text).not.toContain('/v1/track/');
    for (let i = 0; i < 2; i++) {
      const response = await fetch(url);
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toBe('image/gif');
      expect(response.headers.get('cache-control')).toBe('no-store');
      expect(Buffer.from(await response.arrayBuffer())).toEqual(PIXEL);
    }
    const opened = await query<{ channel: string; user_id: string; outcome: string; n: string }>(
      `SELECT channel, user_id, outcome, toString(count()) AS n FROM \`${ns.database}\`.inapp_outcomes FINAL
       WHERE decision_id = 'weekly-tip:tip-1' GROUP BY channel, user_id, outcome`,
    );
    expect(opened).toEqual([{ channel: 'email', user_id: 'ada', outcome: 'seen', n: '1' }]);
  });

  it('the link shows a page naming the message; a forged one is refused (400) and leaves no entry', async () => {
    const page = await fetch(link);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('Stop getting <strong>Weekly tip</strong> emails?');
    const [payload = '', signature = ''] = (link.split('/').pop() ?? '').split('.');
    const bob = Buffer.from(JSON.stringify({ user_id: 'bob', message_id: 'weekly-tip', channel: 'email' }));
    for (const forged of [`${bob.toString('base64url')}.${signature}`, `${payload}.${signature.slice(1)}A`]) {
      const refused = await oneClick(`${config.publicUrl}/v1/unsubscribe/${forged}`);
      expect(refused.status).toBe(400);
      expect(JSON.parse(refused.text)).toMatchObject({ error: { code: 'invalid_unsubscribe_token' } });
    }
  });

  it('one click as a mailbox provider sends it (RFC 8058, no key) makes the next decision suppressed: unsubscribed', async () => {
    const clicked = await oneClick(link);
    expect(clicked.status, clicked.text).toBe(200);
    expect(clicked.text).toBe('You are unsubscribed from "Weekly tip" emails.\n');
    await track('tip-2');
    const decisions = await until(async () => {
      const rows = await query<{ entry_id: string; outcome: string; reason: string | null }>(
        `SELECT entry_id, outcome, reason FROM \`${ns.database}\`.decisions FINAL WHERE user_id = 'ada' ORDER BY at, entry_id`,
      );
      return rows.length === 2 ? rows : undefined;
    }, 'both decisions in ClickHouse');
    expect(decisions).toEqual([
      { entry_id: 'tip-1', outcome: 'sent', reason: null },
      { entry_id: 'tip-2', outcome: 'suppressed', reason: 'unsubscribed' },
    ]);
    // The log holds the one opt-out the click wrote, and none from the forged links.
    const entries = await until(async () => {
      const rows = await query<{ type: string; entry_id: string }>(
        `SELECT type, entry_id FROM \`${ns.database}\`.log_entries FINAL WHERE user_id IN ('ada', 'bob') ORDER BY received_at, seq`,
      );
      return rows.length === 4 ? rows : undefined;
    }, 'the four entries in ClickHouse');
    expect(entries.map((row) => row.type)).toEqual(['identify', 'track', 'preferences', 'track']);
    // One mail in all: the suppressed decision made no delivery.
    expect(await readdir(mailDir)).toHaveLength(1);
    const outcomes = await query<{ outcome: string }>(
      `SELECT outcome FROM \`${ns.database}\`.delivery_outcomes`,
    );
    expect(outcomes).toEqual([{ outcome: 'delivered' }]);
  });

  it('a replay of the recorded window decides exactly as live did', async () => {
    const started = await call('POST', '/v1/replays', keys.admin, {
      from: startedAt,
      to: Date.now() + 1_000,
    });
    expect(started.status, started.text).toBe(202);
    const { url } = JSON.parse(started.text) as { url: string };
    const done = await until(async () => {
      const replay = JSON.parse((await call('GET', url, keys.admin)).text) as { status: string };
      return replay.status === 'running' ? undefined : replay;
    }, 'the replay to finish');
    expect(done).toMatchObject({
      status: 'done',
      report: { entries: 4, decisions: 2, identical: true, differences: 0 },
    });
    const report = (done as unknown as { report: { messages: unknown[] } }).report;
    expect(report.messages).toEqual([
      {
        message_id: 'weekly-tip',
        before: { sent: 1, suppressed: { unsubscribed: 1 }, filtered: {}, users_reached: 1 },
        after: { sent: 1, suppressed: { unsubscribed: 1 }, filtered: {}, users_reached: 1 },
      },
    ]);
  });
});

/** A header's value as the mail holds it, unfolded (mailparser merges the `List-*` ones into one). */
function header(mail: ParsedMail, name: string): string {
  const line = mail.headerLines.find((h) => h.key === name)?.line ?? '';
  return line
    .slice(line.indexOf(':') + 1)
    .replace(/\r?\n[ \t]+/g, ' ')
    .trim();
}

async function call(method: 'GET' | 'POST', path: string, key: string, body?: unknown) {
  const response = await fetch(`${api}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${key}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: response.status, text: await response.text() };
}

const track = async (id: string) => {
  const tracked = await call('POST', '/v1/events', keys.ingest, {
    type: 'track',
    id,
    name: 'tip-due',
    user_id: 'ada',
  });
  expect(tracked.status, tracked.text).toBe(202);
};

/** RFC 8058 §3.2: what a mailbox provider sends when its "Unsubscribe" button is pressed. */
async function oneClick(url: string) {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: 'List-Unsubscribe=One-Click',
  });
  return { status: response.status, text: await response.text() };
}

async function query<T>(sql: string): Promise<T[]> {
  const result = await clickhouse.query({ query: sql, format: 'JSONEachRow' }).catch(() => undefined);
  return result === undefined ? [] : result.json<T>();
}

/** Polls until `check` gives something (the matcher, the writers and the sender run on their own time). */
async function until<T>(check: () => T | undefined | Promise<T | undefined>, what: string): Promise<T> {
  const deadline = Date.now() + 90_000;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline)
      throw new Error(`gave up waiting for ${what}:\n${reports.slice(-20).join('\n')}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const address = probe.address();
  await new Promise((resolve) => probe.close(resolve));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}
