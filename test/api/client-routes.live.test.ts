import { request as httpRequest } from 'node:http';
import type { IncomingMessage } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SseFrame } from '../../api/sdk/sse-parser.ts';
import { SseParser } from '../../api/sdk/sse-parser.ts';
import { migrateAudit } from '../../pipeline/adapters/clickhouse/audit-schema.ts';
import { NatsInAppFeed } from '../../pipeline/adapters/nats/nats-inapp-feed.ts';
import { RedisInbox } from '../../pipeline/adapters/redis/redis-inbox.ts';
import type { InboxMessage } from '../../pipeline/ports/inbox.ts';
import { clickhouseClient } from '../clickhouse-cli.ts';
import { apiFixture, clientHeaders } from './api-fixture.ts';
import { expectErrorShape, recordOf, send } from './api-helpers.ts';

/**
 * The `/v1/client` routes a page calls with a publishable key (issue #16), on the real NATS,
 * Redis and ClickHouse: only the user the hash proves, its inbox alone, every mark recorded, and
 * the stream over a real HTTP connection (inject cannot hold one open).
 */
let f: Awaited<ReturnType<typeof apiFixture>>;
let inbox: RedisInbox;
let feed: NatsInAppFeed;
let base: string;

beforeAll(async () => {
  f = await apiFixture();
  await migrateAudit(f.clickhouse, f.ns.database);
  inbox = new RedisInbox(f.redis, f.ns);
  feed = new NatsInAppFeed(f.nc, f.ns);
  base = await f.app.listen({ host: '127.0.0.1', port: 0 });
}, 60_000);

afterAll(async () => {
  await f.close();
});

const message = (user: string, n: number): InboxMessage => ({
  decision_id: `upload-banner:${user}-e${n}`,
  message_id: 'upload-banner',
  channel: 'banner',
  subject: `<b>file ${n}</b>`,
  body: 'Share it',
  at: 1_793_610_000_000 + n,
});

/** A send as the inbox writer makes it: into the inbox, then told to every API process. */
async function sendInApp(user: string, n: number) {
  const { entry } = await inbox.add(user, message(user, n));
  feed.publish({ user_id: user, entry });
  return entry;
}

const asClient = (user: string, url: string, body?: unknown) =>
  send(f.app, {
    method: body === undefined ? 'GET' : 'POST',
    url,
    key: f.keys.client,
    headers: clientHeaders(user),
    ...(body === undefined ? {} : { body }),
  });

describe('a client key speaks for the user its hash proves, and only there', () => {
  it('tracks for the verified user, whatever the body says', async () => {
    const response = await asClient('ü 1', '/v1/client/events', {
      id: 'c-1',
      name: 'upload-completed',
      metadata: { file_name: 'a.mp4' },
      context: { url: 'https://app.example/demo', time_on_page_s: 3 },
    });
    expect(response.statusCode, response.body).toBe(202);
    const entry = (await f.logged()).find((e) => e.id === 'c-1');
    expect(entry).toMatchObject({ type: 'track', user_id: 'ü 1', name: 'upload-completed' });
    const smuggled = await asClient('ü 1', '/v1/client/events', { name: 'x', user_id: 'someone-else' });
    expect(expectErrorShape(smuggled, 400).message).toContain('user_id');
    const identify = await asClient('ü 1', '/v1/client/identify', { attributes: { timezone: 'Asia/Tokyo' } });
    expect(identify.statusCode, identify.body).toBe(202);
  });

  it('refuses a missing user (401), a wrong hash or another user’s hash (403)', async () => {
    const missing = await send(f.app, { method: 'GET', url: '/v1/client/inbox', key: f.keys.client });
    expect(expectErrorShape(missing, 401).code).toBe('unauthorized');
    const wrong = await send(f.app, {
      method: 'GET',
      url: '/v1/client/inbox',
      key: f.keys.client,
      headers: { ...clientHeaders('alice'), 'x-nudge-user-hash': 'ab'.repeat(32) },
    });
    expect(expectErrorShape(wrong, 403).code).toBe('user_not_verified');
    const borrowed = await send(f.app, {
      method: 'GET',
      url: '/v1/client/inbox',
      key: f.keys.client,
      headers: { ...clientHeaders('bob'), 'x-nudge-user-id': 'alice' },
    });
    expect(expectErrorShape(borrowed, 403).code).toBe('user_not_verified');
    const noKey = await send(f.app, {
      method: 'GET',
      url: '/v1/client/inbox',
      headers: clientHeaders('alice'),
    });
    expect(expectErrorShape(noKey, 401).code).toBe('unauthorized');
  });

  it.each([
    ['POST', '/v1/events'],
    ['GET', '/v1/users/alice/decisions'],
    ['GET', '/v1/stats/summary'],
    ['GET', '/v1/messages'],
    ['PUT', '/v1/caps'],
  ] as const)('a client key on %s %s is forbidden, with the user proven or not', async (method, url) => {
    for (const headers of [{}, clientHeaders('alice')]) {
      const response = await send(f.app, { method, url, key: f.keys.client, headers });
      expect(expectErrorShape(response, 403).code).toBe('forbidden');
    }
  });
});

describe('the inbox', () => {
  it("lists the user's messages newest first, and never another user's", async () => {
    await sendInApp('carol', 1);
    await sendInApp('carol', 2);
    await sendInApp('dave', 1);
    const carol = recordOf(await asClient('carol', '/v1/client/inbox'));
    expect((carol['messages'] as { decision_id: string }[]).map((m) => m.decision_id)).toEqual([
      'upload-banner:carol-e2',
      'upload-banner:carol-e1',
    ]);
    expect((carol['messages'] as object[])[0]).toMatchObject({
      message_id: 'upload-banner',
      channel: 'banner',
      subject: '<b>file 2</b>',
      body: 'Share it',
      seen: false,
      dismissed: false,
    });
    const dave = recordOf(await asClient('dave', '/v1/client/inbox'));
    expect((dave['messages'] as { decision_id: string }[]).map((m) => m.decision_id)).toEqual([
      'upload-banner:dave-e1',
    ]);
  });

  it("marks seen, dismissed and clicked once each in ClickHouse; another user's message is a 404", async () => {
    const entry = await sendInApp('erin', 1);
    const url = (action: string) => `/v1/client/inbox/${encodeURIComponent(entry.decision_id)}/${action}`;
    expect(recordOf(await asClient('erin', url('seen'), {}))).toEqual({
      decision_id: entry.decision_id,
      action: 'seen',
      first: true,
    });
    expect(recordOf(await asClient('erin', url('seen'), {}))['first']).toBe(false);
    expect((await asClient('erin', url('clicked'), {})).statusCode).toBe(200);
    expect((await asClient('erin', url('dismissed'), {})).statusCode).toBe(200);
    expect(expectErrorShape(await asClient('frank', url('seen'), {}), 404).code).toBe('not_found');
    expect(expectErrorShape(await asClient('erin', url('opened'), {}), 400).code).toBe('invalid_request');
    const [listed] = recordOf(await asClient('erin', '/v1/client/inbox'))['messages'] as object[];
    expect(listed).toMatchObject({ seen: true, dismissed: true });
    const rows = await clickhouseClient<{ outcome: string; n: string; user_id: string; message_id: string }>(
      `SELECT outcome, count() AS n, any(user_id) AS user_id, any(message_id) AS message_id
       FROM ${f.ns.database}.inapp_outcomes FINAL WHERE decision_id = '${entry.decision_id}' GROUP BY outcome ORDER BY outcome`,
    );
    expect(rows).toEqual([
      { outcome: 'clicked', n: '1', user_id: 'erin', message_id: 'upload-banner' },
      { outcome: 'dismissed', n: '1', user_id: 'erin', message_id: 'upload-banner' },
      { outcome: 'seen', n: '1', user_id: 'erin', message_id: 'upload-banner' },
    ]);
  });
});

describe('CORS', () => {
  it('answers a preflight from any origin with the headers a page sends', async () => {
    const response = await f.app.inject({
      method: 'OPTIONS',
      url: '/v1/client/events',
      headers: {
        origin: 'https://shop.example',
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'authorization, content-type, x-nudge-user-id, x-nudge-user-hash',
      },
    });
    expect(response.statusCode).toBeLessThan(300);
    expect(response.headers['access-control-allow-origin']).toBe('*');
    expect(String(response.headers['access-control-allow-headers'])).toContain('x-nudge-user-hash');
  });

  it('lets only the listed origins in when NUDGE_CLIENT_ORIGINS is set', async () => {
    const only = await apiFixture({ clientOrigins: ['https://app.example'] });
    try {
      const ask = (origin: string) =>
        only.app.inject({
          method: 'GET',
          url: '/v1/client/inbox',
          headers: { origin, authorization: `Bearer ${only.keys.client}`, ...clientHeaders('gina') },
        });
      expect((await ask('https://app.example')).headers['access-control-allow-origin']).toBe(
        'https://app.example',
      );
      expect((await ask('https://evil.example')).headers['access-control-allow-origin']).toBeUndefined();
    } finally {
      await only.close();
    }
  });
});

/** One server-sent-events connection, its frames as they come. */
class EventStream {
  readonly frames: SseFrame[] = [];
  status = 0;
  private response: IncomingMessage | undefined;
  private readonly waiters: (() => void)[] = [];

  constructor(user: string, lastEventId?: number, hash?: string) {
    const headers: Record<string, string> = {
      authorization: `Bearer ${f.keys.client}`,
      ...clientHeaders(user),
      ...(hash === undefined ? {} : { 'x-nudge-user-hash': hash }),
      ...(lastEventId === undefined ? {} : { 'last-event-id': String(lastEventId) }),
    };
    // A connection of its own: a pooled socket would outlive the test.
    const req = httpRequest(`${base}/v1/client/stream`, { headers, agent: false }, (response) => {
      this.response = response;
      this.status = response.statusCode ?? 0;
      response.setEncoding('utf8');
      const parser = new SseParser((frame) => this.frames.push(frame));
      response.on('data', (chunk: string) => {
        parser.push(chunk);
        for (const wake of this.waiters.splice(0)) wake();
      });
      response.on('end', () => {
        for (const wake of this.waiters.splice(0)) wake();
      });
    });
    req.end();
  }

  async until(check: () => boolean, ms = 5_000): Promise<void> {
    const deadline = Date.now() + ms;
    while (!check()) {
      if (Date.now() > deadline) throw new Error(`timed out; frames: ${JSON.stringify(this.frames)}`);
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        setTimeout(resolve, 100);
      });
    }
  }

  messages = () => this.frames.filter((frame) => frame.event === 'message').map((frame) => Number(frame.id));

  close(): void {
    this.response?.destroy();
  }
}

describe('the stream', { timeout: 30_000 }, () => {
  it('is ready with the newest seq, then brings each send to every page of the user, and none of another user', async () => {
    const before = await sendInApp('hana', 1);
    const [tab1, tab2, other] = [new EventStream('hana'), new EventStream('hana'), new EventStream('ivan')];
    try {
      for (const tab of [tab1, tab2, other])
        await tab.until(() => tab.frames.some((x) => x.event === 'ready'));
      expect(JSON.parse(tab1.frames[0]?.data ?? '{}')).toEqual({ last_seq: before.seq });
      const sent = await sendInApp('hana', 2);
      for (const tab of [tab1, tab2]) await tab.until(() => tab.messages().includes(sent.seq));
      expect(JSON.parse(tab1.frames.at(-1)?.data ?? '{}')).toMatchObject({
        decision_id: sent.decision_id,
        subject: '<b>file 2</b>',
      });
      // Told twice (a delivery read again): written once.
      feed.publish({ user_id: 'hana', entry: sent });
      await sendInApp('hana', 3);
      await tab1.until(() => tab1.messages().length === 2);
      expect(tab1.messages()).toEqual([sent.seq, sent.seq + 1]);
      expect(other.messages()).toEqual([]);
    } finally {
      for (const tab of [tab1, tab2, other]) tab.close();
    }
  });

  it('after a reconnect sends what came after Last-Event-ID, oldest first, then live ones', async () => {
    const first = await sendInApp('jun', 1);
    await sendInApp('jun', 2);
    await sendInApp('jun', 3);
    const again = new EventStream('jun', first.seq);
    try {
      await again.until(() => again.frames.some((x) => x.event === 'ready'));
      expect(again.messages()).toEqual([first.seq + 1, first.seq + 2]);
      const live = await sendInApp('jun', 4);
      await again.until(() => again.messages().includes(live.seq));
      expect(again.messages()).toEqual([first.seq + 1, first.seq + 2, live.seq]);
    } finally {
      again.close();
    }
  });

  it('refuses a wrong hash before it opens', async () => {
    const refused = new EventStream('kim', undefined, '00'.repeat(32));
    await refused.until(() => refused.status !== 0);
    expect(refused.status).toBe(403);
    refused.close();
  });
});
