import { execFile, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { openSync } from 'node:fs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { createServer as createHttpServer } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ClickHouseLogLevel, createClient } from '@clickhouse/client';
import { Analytics } from '@segment/analytics-node';
import { IntercomClient } from 'intercom-client';
import { Redis } from 'ioredis';
import { connect } from 'nats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../pipeline/config/load-config.ts';
import { Namespace } from '../../pipeline/namespace.ts';

/**
 * The official clients, unmodified but for their host and key, against `nudge start` (issue #7):
 * `@segment/analytics-node` with its `host` option and `intercom-client` with its `baseUrl`. The
 * decisions their calls drive are read back from ClickHouse.
 */
const root = new URL('../..', import.meta.url).pathname;
const config = loadConfig(process.env);
const run = promisify(execFile);
const clickhouse = createClient({ url: config.clickhouseUrl, log: { level: ClickHouseLogLevel.OFF } });
const ns = new Namespace(`t_${randomUUID().replaceAll('-', '').slice(0, 20)}`);
let matcher: ChildProcess | undefined;
let base = '';
let key = '';

const MESSAGES = [
  {
    id: 'order-thanks',
    channel: 'banner',
    state: 'live',
    trigger: { event: 'Order Completed', where: { field: 'metadata.product.id', op: 'eq', value: 'p1' } },
    audience: { field: 'user.plan', op: 'eq', value: 'pro' },
    template: { body: 'Thanks for {{ metadata.product.name }}, {{ user.address.city }}' },
  },
  {
    id: 'invite-thanks',
    channel: 'post',
    state: 'live',
    trigger: { event: 'invited-friend', where: { field: 'metadata.price.currency', op: 'eq', value: 'eur' } },
    template: {
      subject: 'Thanks',
      body: '{{ metadata.price.amount }} cents, see {{ metadata.article.url }}',
    },
  },
];

const freePort = () =>
  new Promise<number>((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => {
        resolve(typeof address === 'object' && address !== null ? address.port : 0);
      });
    });
  });

beforeAll(async () => {
  const port = await freePort();
  const env = {
    ...process.env,
    NUDGE_NAMESPACE: ns.name,
    NUDGE_PARTITIONS: '2',
    NUDGE_API_PORT: String(port),
  };
  const nudge = (...args: string[]) =>
    run(process.execPath, [join(root, 'bin/nudge.js'), ...args], { env, cwd: root });
  const dir = await mkdtemp(join(tmpdir(), 'nudge-compat-'));
  await writeFile(join(dir, 'messages.json'), JSON.stringify(MESSAGES));
  await nudge('messages', 'apply', '--file', join(dir, 'messages.json'));
  key = (await nudge('keys', 'create', '--scope', 'ingest', '--name', 'compat')).stdout.trim();
  const log = openSync(join(dir, 'start.log'), 'w');
  matcher = spawn(process.execPath, [join(root, 'bin/nudge.js'), 'start'], {
    env,
    cwd: root,
    stdio: ['ignore', log, log],
  });
  base = `http://127.0.0.1:${port}`;
  for (const deadline = Date.now() + 60_000; Date.now() < deadline;) {
    if (
      await fetch(`${base}/readyz`).then(
        (r) => r.ok,
        () => false,
      )
    )
      return;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(`nudge start did not become ready (see ${dir}/start.log)`);
}, 90_000);

afterAll(async () => {
  matcher?.kill('SIGKILL');
  const nc = await connect({ servers: config.natsUrl });
  const jsm = await nc.jetstreamManager();
  for (const stream of ns.streams) await jsm.streams.delete(stream).catch(() => false);
  await nc.drain();
  const redis = new Redis(config.redisUrl);
  const keys = await redis.keys(`${ns.name}:*`);
  if (keys.length > 0) await redis.del(...keys);
  await redis.quit();
  await clickhouse.command({ query: `DROP DATABASE IF EXISTS \`${ns.database}\`` });
  await clickhouse.close();
});

// ClickHouse 18.16 has no query parameters; the users here are plain ids of this file's own.
type Row = {
  entry_id: string;
  user_id: string;
  message_id: string;
  outcome: string;
  reason: string | null;
  body: string | null;
};

/** The decisions of a user once their count reaches `count` (the matcher and writer take a moment). */
async function decisionsOf(user: string, count: number): Promise<Row[]> {
  let rows: Row[] = [];
  for (const deadline = Date.now() + 30_000; Date.now() < deadline;) {
    const result = await clickhouse
      .query({
        query: `SELECT entry_id, user_id, message_id, outcome, reason, body FROM \`${ns.database}\`.decisions FINAL WHERE user_id = '${user}' ORDER BY entry_id, message_id`,
        format: 'JSONEachRow',
      })
      .catch(() => undefined);
    rows = (await result?.json<Row>()) ?? [];
    if (rows.length >= count) break;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  return rows;
}

async function entriesOf(
  user: string,
): Promise<{ entry_id: string; metadata: string; attributes: string }[]> {
  const result = await clickhouse.query({
    query: `SELECT entry_id, metadata, attributes FROM \`${ns.database}\`.log_entries FINAL WHERE user_id = '${user}' ORDER BY received_at`,
    format: 'JSONEachRow',
  });
  return result.json();
}

describe('@segment/analytics-node pointed at Nudge', () => {
  it('identify and track (batched) drive a decision; a retry with the same messageId is one entry; an alias call is refused alone', async () => {
    const analytics = new Analytics({
      writeKey: key,
      host: base,
      flushAt: 10,
      flushInterval: 200,
      maxRetries: 3,
    });
    const errors: unknown[] = [];
    analytics.on('error', (error) => errors.push(error));
    analytics.identify({ userId: 'seg-1', traits: { plan: 'pro', address: { city: 'Paris' } } });
    const order = {
      userId: 'seg-1',
      event: 'Order Completed',
      messageId: 'order-1',
      properties: { product: { id: 'p1', name: 'Lamp' } },
    };
    analytics.track(order);
    // The same call again, as a client retrying it would: one entry, one decision.
    analytics.track(order);
    analytics.track({
      userId: 'seg-1',
      event: 'Cart Viewed',
      messageId: 'cart-1',
      properties: { items: [1, 2] },
    });
    analytics.alias({ userId: 'seg-1', previousId: 'anonymous-7', messageId: 'alias-1' });
    await analytics.closeAndFlush();
    expect(errors).toEqual([]);
    const decisions = await decisionsOf('seg-1', 1);
    expect(decisions).toEqual([
      {
        entry_id: 'order-1',
        user_id: 'seg-1',
        message_id: 'order-thanks',
        outcome: 'sent',
        reason: null,
        body: 'Thanks for Lamp, Paris',
      },
    ]);
    const entries = await entriesOf('seg-1');
    // The identify, the order once and the cart (its array as the items' places); the alias call
    // was refused, not stored.
    expect(entries.map((e) => e.entry_id).filter((id) => id !== 'order-1' && id !== 'cart-1')).toHaveLength(
      1,
    );
    expect(entries.filter((e) => e.entry_id === 'order-1')).toHaveLength(1);
    expect(JSON.parse(entries.find((e) => e.entry_id === 'cart-1')?.metadata ?? '{}')).toEqual({
      'items.0': 1,
      'items.1': 2,
    });
    expect(entries.some((e) => e.entry_id === 'alias-1')).toBe(false);
    expect(JSON.parse(entries.find((e) => e.entry_id === 'order-1')?.metadata ?? '{}')).toEqual({
      'product.id': 'p1',
      'product.name': 'Lamp',
    });
  }, 60_000);
});

/**
 * A proxy in front of Nudge that forwards the first request and then answers it 503, as a
 * connection lost after the store would: the client sends the batch again, with the same ids.
 */
async function losingFirstAnswer(): Promise<{
  url: string;
  forwarded: () => number;
  close: () => Promise<void>;
}> {
  let forwarded = 0;
  const server = createHttpServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      forwarded++;
      const headers = Object.fromEntries(
        Object.entries(request.headers).flatMap(([k, v]) =>
          typeof v === 'string' && k !== 'host' && k !== 'content-length' ? [[k, v]] : [],
        ),
      );
      void fetch(`${base}${request.url ?? '/'}`, {
        method: request.method ?? 'POST',
        headers,
        body: Buffer.concat(chunks),
      }).then(async (answer) => {
        const body = await answer.text();
        if (forwarded === 1) response.writeHead(503).end();
        else response.writeHead(answer.status, { 'content-type': 'application/json' }).end(body);
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    forwarded: () => forwarded,
    close: () =>
      new Promise((resolve) => {
        server.close(() => {
          resolve();
        });
      }),
  };
}

describe('@segment/analytics-node retrying through a lost answer', () => {
  it('sends the batch again with the same messageIds, and they are decided once', async () => {
    const proxy = await losingFirstAnswer();
    try {
      const client = () => new Analytics({ writeKey: key, host: proxy.url, flushAt: 1, maxRetries: 3 });
      const first = client();
      first.identify({ userId: 'seg-2', traits: { plan: 'pro', address: { city: 'Oslo' } } });
      await first.closeAndFlush();
      // A client closed once sends nothing more: the order goes through a second one.
      const analytics = client();
      analytics.track({
        userId: 'seg-2',
        event: 'Order Completed',
        messageId: 'order-2',
        properties: { product: { id: 'p1', name: 'Desk' } },
      });
      await analytics.closeAndFlush();
      expect(proxy.forwarded()).toBeGreaterThanOrEqual(3); // the identify lost, sent again, then the order
    } finally {
      await proxy.close();
    }
    const decisions = await decisionsOf('seg-2', 1);
    expect(decisions.map(({ entry_id, outcome, body }) => ({ entry_id, outcome, body }))).toEqual([
      { entry_id: 'order-2', outcome: 'sent', body: 'Thanks for Desk, Oslo' },
    ]);
    // The identify reached Nudge twice, and is one entry.
    expect((await entriesOf('seg-2')).map((e) => e.entry_id).filter((id) => id !== 'order-2')).toHaveLength(
      1,
    );
  }, 60_000);
});

describe('intercom-client pointed at Nudge', () => {
  it('events.create with rich metadata drives a decision; sending it again is one entry', async () => {
    const client = new IntercomClient({ token: key, baseUrl: base });
    const event = {
      event_name: 'invited-friend',
      created_at: 1_764_576_000,
      user_id: 'ic-1',
      metadata: {
        price: { amount: 34999, currency: 'eur' },
        article: { url: 'https://example.test/a', value: 'A' },
      },
    };
    // The client types metadata as strings only; Intercom's API (and Nudge) take its rich values too.
    const request = event as unknown as Parameters<typeof client.events.create>[0];
    await client.events.create(request);
    await client.events.create(request);
    const decisions = await decisionsOf('ic-1', 1);
    expect(decisions.map(({ message_id, outcome, body }) => ({ message_id, outcome, body }))).toEqual([
      { message_id: 'invite-thanks', outcome: 'sent', body: '34999 cents, see https://example.test/a' },
    ]);
    const entries = await entriesOf('ic-1');
    expect(entries).toHaveLength(1);
    expect(JSON.parse(entries[0]?.metadata ?? '{}')).toEqual({
      'price.amount': 34999,
      'price.currency': 'eur',
      'article.url': 'https://example.test/a',
      'article.value': 'A',
    });
  }, 60_000);

  it("a wrong token is Intercom's 401 error list, which the client raises", async () => {
    const client = new IntercomClient({ token: 'nudge_wrong', baseUrl: base });
    await expect(
      client.events.create({ event_name: 'x', created_at: 1, user_id: 'ic-2' }),
    ).rejects.toMatchObject({
      statusCode: 401,
      body: { type: 'error.list', errors: [{ code: 'unauthorized' }] },
    });
  });
});
