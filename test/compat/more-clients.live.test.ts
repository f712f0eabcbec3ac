import { execFile, spawn } from 'node:child_process';
import { launchChromium } from '../chromium.ts';
import type { ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { openSync } from 'node:fs';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { createServer as createHttpServer } from 'node:http';
import type { IncomingHttpHeaders, RequestListener } from 'node:http';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ClickHouseLogLevel, createClient } from '@clickhouse/client';
import RudderAnalytics from '@rudderstack/rudder-sdk-node';
import { Redis } from 'ioredis';
import { connect } from 'nats';
import type { Request } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../pipeline/config/load-config.ts';
import { Namespace } from '../../pipeline/namespace.ts';

/**
 * Three more official clients of Segment's tracking spec, unmodified but for their host and key,
 * against `nudge start` (as `official-clients.live.test.ts` does for `@segment/analytics-node` and
 * `intercom-client`): RudderStack's Node SDK (gzipped batches), Segment's previous Node client
 * `analytics-node` v6, and Segment's browser library analytics.js 2.0 (`@segment/analytics-next`)
 * in headless Chromium, on a page of another origin. The decisions their calls drive are read back
 * from ClickHouse.
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
    // Segment's e-commerce spec: the products of an order, as an array.
    id: 'big-order',
    channel: 'banner',
    state: 'live',
    trigger: { event: 'Order Completed', where: { field: 'metadata.products.0.price', op: 'gt', value: 50 } },
    audience: { field: 'user.plan', op: 'eq', value: 'pro' },
    template: { body: 'Your {{ metadata.products.0.name }} ships soon, {{ user.name }}' },
  },
  {
    id: 'trial-welcome',
    channel: 'post',
    state: 'live',
    trigger: { event: 'Trial Started', where: { field: 'metadata.trial_days', op: 'gte', value: 14 } },
    audience: { field: 'user.address.city', op: 'eq', value: 'Lyon' },
    template: { subject: 'Welcome', body: '{{ metadata.trial_days }} days of {{ metadata.plan }}' },
  },
  {
    id: 'pricing-help',
    channel: 'chat',
    state: 'live',
    trigger: {
      event: 'Viewed Docs Pricing Page',
      where: { field: 'context.url', op: 'contains', value: '/pricing' },
    },
    audience: { field: 'user.plan', op: 'eq', value: 'team' },
    template: { body: 'Questions about {{ context.title }}, {{ user.name }}?' },
  },
  {
    id: 'seats-thanks',
    channel: 'banner',
    state: 'live',
    trigger: { event: 'Seats Added', where: { field: 'metadata.seats', op: 'gte', value: 5 } },
    template: { body: '{{ metadata.seats }} seats added' },
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

/** A `node:http` server on a free port of 127.0.0.1, with its URL and a way to close it. */
async function listening(handler: RequestListener): Promise<{ url: string; close: () => Promise<void> }> {
  const server = createHttpServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => {
          resolve();
        });
      }),
  };
}

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
  for (const deadline = Date.now() + 60_000; Date.now() < deadline && matcher.exitCode === null;) {
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
type Decision = { entry_id: string; message_id: string; outcome: string; body: string | null };
type Entry = {
  entry_id: string;
  type: string;
  name: string;
  metadata: string;
  context: string;
  attributes: string;
};

/** Rows of a user once their count reaches `count` (the matcher and writer take a moment). */
async function rowsOf<T>(query: string, count: number): Promise<T[]> {
  let rows: T[] = [];
  for (const deadline = Date.now() + 20_000; Date.now() < deadline;) {
    const result = await clickhouse.query({ query, format: 'JSONEachRow' }).catch(() => undefined);
    rows = (await result?.json<T>()) ?? [];
    if (rows.length >= count) break;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  return rows;
}

const decisionsOf = (user: string, count: number) =>
  rowsOf<Decision>(
    `SELECT entry_id, message_id, outcome, body FROM \`${ns.database}\`.decisions FINAL WHERE user_id = '${user}' ORDER BY message_id, entry_id`,
    count,
  );

const entriesOf = (user: string, count: number) =>
  rowsOf<Entry>(
    `SELECT entry_id, type, name, metadata, context, attributes FROM \`${ns.database}\`.log_entries FINAL WHERE user_id = '${user}' ORDER BY received_at, seq, position`,
    count,
  );

const parsed = (json: string | undefined): unknown => JSON.parse(json ?? '{}');

/** A proxy in front of Nudge that records each request's headers, then forwards it as it came. */
async function recordingProxy() {
  const seen: { method: string; url: string; headers: IncomingHttpHeaders; gzipMagic: boolean }[] = [];
  const server = await listening((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const body = Buffer.concat(chunks);
      seen.push({
        method: request.method ?? '',
        url: request.url ?? '',
        headers: request.headers,
        gzipMagic: body[0] === 0x1f && body[1] === 0x8b,
      });
      const headers = Object.fromEntries(
        Object.entries(request.headers).flatMap(([k, v]) =>
          typeof v === 'string' && k !== 'host' && k !== 'content-length' ? [[k, v]] : [],
        ),
      );
      void fetch(`${base}${request.url ?? '/'}`, {
        method: request.method ?? 'POST',
        headers,
        body,
      }).then(async (answer) => {
        response.writeHead(answer.status, { 'content-type': 'application/json' }).end(await answer.text());
      });
    });
  });
  return { ...server, seen };
}

describe('@rudderstack/rudder-sdk-node pointed at Nudge', () => {
  it('gzipped batches: an e-commerce order whose first product is over 50 drives a decision on metadata.products.0.price', async () => {
    const proxy = await recordingProxy();
    const errors: unknown[] = [];
    try {
      // The gzip option is left at its default (on): the proxy checks what really went.
      const client = new RudderAnalytics(key, {
        dataPlaneUrl: proxy.url,
        flushInterval: 200,
        logLevel: 'error',
        errorHandler: (error: unknown) => errors.push(error),
      });
      // The first call goes alone at once; the orders follow it, in one batch.
      await new Promise<void>((resolve) => {
        client.identify({ userId: 'rs-1', traits: { plan: 'pro', name: 'Ada' } }, resolve);
      });
      const order = (id: string, products: Record<string, string | number>[]) => ({
        userId: 'rs-1',
        event: 'Order Completed',
        messageId: id,
        properties: {
          order_id: id,
          total: products.reduce((sum, p) => sum + Number(p['price']) * Number(p['quantity']), 0),
          currency: 'EUR',
          coupon: 'SPRING',
          products,
        },
      });
      // A cheap order first, then one whose first product is over 50.
      client.track(
        order('rs-order-1', [{ product_id: 'p9', sku: 'S-9', name: 'Pen', price: 20, quantity: 1 }]),
      );
      client.track(
        order('rs-order-2', [
          { product_id: 'p1', sku: 'L-1', name: 'Lamp', price: 80, quantity: 1 },
          { product_id: 'p2', sku: 'B-2', name: 'Bulb', price: 5, quantity: 4 },
        ]),
      );
      await client.flush();
    } finally {
      await proxy.close();
    }
    expect(errors).toEqual([]);
    expect(proxy.seen.length).toBeGreaterThanOrEqual(2);
    // Its axios posts the gzipped JSON declared as a form: Nudge reads the body as JSON anyway.
    for (const request of proxy.seen) {
      expect(request).toMatchObject({
        method: 'POST',
        url: '/v1/batch',
        headers: {
          'content-encoding': 'gzip',
          'content-type': 'application/x-www-form-urlencoded',
          authorization: `Basic ${btoa(`${key}:`)}`,
        },
        gzipMagic: true,
      });
    }
    // The cheap order was a candidate of the message, filtered out by its condition.
    expect(await decisionsOf('rs-1', 2)).toEqual([
      { entry_id: 'rs-order-1', message_id: 'big-order', outcome: 'filtered', body: null },
      { entry_id: 'rs-order-2', message_id: 'big-order', outcome: 'sent', body: 'Your Lamp ships soon, Ada' },
    ]);
    const entries = await entriesOf('rs-1', 3);
    expect(entries.map(({ type, name }) => ({ type, name }))).toEqual([
      { type: 'identify', name: '' },
      { type: 'track', name: 'Order Completed' },
      { type: 'track', name: 'Order Completed' },
    ]);
    expect(parsed(entries[0]?.attributes)).toEqual({ plan: 'pro', name: 'Ada' });
    expect(parsed(entries.find((e) => e.entry_id === 'rs-order-2')?.metadata)).toEqual({
      order_id: 'rs-order-2',
      total: 100,
      currency: 'EUR',
      coupon: 'SPRING',
      'products.0.product_id': 'p1',
      'products.0.sku': 'L-1',
      'products.0.name': 'Lamp',
      'products.0.price': 80,
      'products.0.quantity': 1,
      'products.1.product_id': 'p2',
      'products.1.sku': 'B-2',
      'products.1.name': 'Bulb',
      'products.1.price': 5,
      'products.1.quantity': 4,
    });
  }, 30_000);
});

/** `analytics-node` v6 has no types of its own: the part of its API used here. */
type LegacySegment = {
  identify(message: object, callback?: (error?: Error) => void): LegacySegment;
  track(message: object, callback?: (error?: Error) => void): LegacySegment;
};
const LegacyAnalytics = createRequire(import.meta.url)('analytics-node') as new (
  writeKey: string,
  options: {
    host: string;
    flushAt?: number;
    flushInterval?: number;
    errorHandler?: (error: unknown) => void;
  },
) => LegacySegment;

describe('analytics-node (v6) pointed at Nudge', () => {
  it('identify then track drive a decision', async () => {
    const errors: unknown[] = [];
    const analytics = new LegacyAnalytics(key, {
      host: base,
      flushAt: 1,
      errorHandler: (error) => errors.push(error),
    });
    const sent = (call: (done: (error?: Error) => void) => unknown) =>
      new Promise<void>((resolve, reject) => {
        call((error) => {
          if (error === undefined) resolve();
          else reject(error);
        });
      });
    await sent((done) =>
      analytics.identify(
        { userId: 'an-1', messageId: 'an-id-1', traits: { plan: 'team', address: { city: 'Lyon' } } },
        done,
      ),
    );
    await sent((done) =>
      analytics.track(
        {
          userId: 'an-1',
          event: 'Trial Started',
          messageId: 'an-trial-1',
          properties: { plan: 'team', trial_days: 14 },
        },
        done,
      ),
    );
    expect(errors).toEqual([]);
    expect(await decisionsOf('an-1', 1)).toEqual([
      { entry_id: 'an-trial-1', message_id: 'trial-welcome', outcome: 'sent', body: '14 days of team' },
    ]);
    const entries = await entriesOf('an-1', 2);
    expect(entries.map(({ entry_id, type, name }) => ({ entry_id, type, name }))).toEqual([
      { entry_id: 'an-id-1', type: 'identify', name: '' },
      { entry_id: 'an-trial-1', type: 'track', name: 'Trial Started' },
    ]);
    expect(parsed(entries[0]?.attributes)).toEqual({ plan: 'team', 'address.city': 'Lyon' });
  }, 30_000);
});

describe('@segment/analytics-next (analytics.js 2.0) in Chromium, on a page of another origin', () => {
  it('identify, page and track from the browser drive decisions; text/plain bodies with the write key, CORS answered', async () => {
    const umd = new URL('../../node_modules/@segment/analytics-next/dist/umd/', import.meta.url).pathname;
    const library = await readFile(join(umd, 'index.js'));
    const api = new URL(base);
    let pageHtml = '';
    // The site: its pricing page loads analytics.js from the site itself (chunks, if any were
    // loaded, from its /analytics-next/bundles/, as cdnURL says).
    const app = await listening((request, response) => {
      const path = new URL(request.url ?? '/', 'http://app').pathname;
      if (path === '/docs/pricing') response.writeHead(200, { 'content-type': 'text/html' }).end(pageHtml);
      else if (path === '/analytics-next.js')
        response.writeHead(200, { 'content-type': 'text/javascript' }).end(library);
      else if (path.startsWith('/analytics-next/bundles/'))
        void readFile(join(umd, path.slice('/analytics-next/bundles/'.length))).then(
          (chunk) => response.writeHead(200, { 'content-type': 'text/javascript' }).end(chunk),
          () => response.writeHead(404).end(),
        );
      else response.writeHead(404).end();
    });
    // What Segment's CDN would answer for the source, with Nudge as its API host; and the same
    // host as a load option, which analytics.js also uses for its own metrics (`/v1/m`).
    const segmentIo = { apiKey: key, apiHost: `${api.host}/v1`, protocol: 'http' };
    const settings = {
      writeKey: key,
      cdnURL: app.url,
      cdnSettings: { integrations: { 'Segment.io': segmentIo }, metrics: { flushTimer: 200 } },
    };
    const options = { integrations: { 'Segment.io': { apiHost: segmentIo.apiHost, protocol: 'http' } } };
    pageHtml = `<!doctype html><html><head><meta charset="utf-8"><title>Pricing</title>
<link rel="icon" href="data:,"><script src="/analytics-next.js"></script>
<script>window.analytics = AnalyticsNext.AnalyticsBrowser.load(${JSON.stringify(settings)}, ${JSON.stringify(options)});</script>
</head><body><h1>Pricing</h1></body></html>`;

    const browser = await launchChromium();
    const problems: string[] = [];
    /** Every request the page made, in order, with its answer once it came. */
    const requests = new Map<
      Request,
      {
        url: string;
        method: string;
        headers: Record<string, string>;
        body: string | null;
        answer?: { status: number; allowOrigin: string | undefined };
      }
    >();
    try {
      const page = await browser.newPage();
      page.on('console', (message) => {
        if (message.type() === 'error') problems.push(`console: ${message.text()}`);
      });
      page.on('pageerror', (error) => problems.push(`page: ${error.message}`));
      page.on('requestfailed', (request) =>
        problems.push(`failed: ${request.url()} ${request.failure()?.errorText ?? ''}`),
      );
      page.on('request', (request) => {
        requests.set(request, {
          url: request.url(),
          method: request.method(),
          headers: request.headers(),
          body: request.postData(),
        });
      });
      page.on('response', (response) => {
        const seen = requests.get(response.request());
        if (seen !== undefined)
          seen.answer = {
            status: response.status(),
            allowOrigin: response.headers()['access-control-allow-origin'],
          };
      });
      await page.goto(`${app.url}/docs/pricing?ref=nav`);
      // Each call resolves once analytics.js has delivered it, so they reach Nudge in this order.
      const call = (expression: string) => page.evaluate(`${expression}.then(() => true)`);
      await call(`analytics.identify('web-1', { plan: 'team', name: 'Grace' })`);
      await call(`analytics.page('Docs', 'Pricing', { plan: 'team' })`);
      await call(`analytics.track('Seats Added', { seats: 5 })`);
      // analytics.js's own metrics follow (every flushTimer ms, taken and discarded by Nudge): wait
      // for the one sent after the last call (it holds every count), and for every answer.
      for (const deadline = Date.now() + 5_000; Date.now() < deadline;) {
        const toNudge = [...requests.values()].filter((r) => r.url.startsWith(`${base}/`));
        if (toNudge.at(-1)?.url === `${base}/v1/m` && toNudge.every((r) => r.answer !== undefined)) break;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      await page.close();
    } finally {
      await browser.close();
      await app.close();
    }

    expect(problems).toEqual([]);
    // Only the site and Nudge were asked anything: no Segment host, nothing else.
    const seen = [...requests.values()];
    expect([...new Set(seen.map((r) => new URL(r.url).origin))].sort()).toEqual([app.url, base].sort());
    const calls = seen.filter((r) => r.url.startsWith(`${base}/`));
    const tracking = calls.filter((r) => r.url !== `${base}/v1/m`);
    expect(tracking.map((r) => `${r.method} ${r.url.slice(base.length)}`)).toEqual([
      'POST /v1/i',
      'POST /v1/p',
      'POST /v1/t',
    ]);
    expect(calls.at(-1)).toMatchObject({ method: 'POST', url: `${base}/v1/m` });
    for (const request of calls) expect(request.headers['content-type']).toBe('text/plain');
    for (const request of tracking) expect(JSON.parse(request.body ?? '{}')).toMatchObject({ writeKey: key });
    // This version sends the key as the HTTP Basic user too, which makes each call a CORS preflight
    // (an Authorization header); older analytics.js sends it in the body only. Nudge answered the
    // preflights (else the calls would have failed) and the calls, to a page of another origin.
    for (const request of tracking) expect(request.headers['authorization']).toBe(`Basic ${btoa(`${key}:`)}`);
    for (const request of calls) expect(request.answer).toEqual({ status: 200, allowOrigin: '*' });

    const decisions = await decisionsOf('web-1', 2);
    expect(decisions.map(({ message_id, outcome, body }) => ({ message_id, outcome, body }))).toEqual([
      { message_id: 'pricing-help', outcome: 'sent', body: 'Questions about Pricing, Grace?' },
      { message_id: 'seats-thanks', outcome: 'sent', body: '5 seats added' },
    ]);
    const entries = await entriesOf('web-1', 3);
    expect(entries.map(({ type, name }) => ({ type, name }))).toEqual([
      { type: 'identify', name: '' },
      { type: 'track', name: 'Viewed Docs Pricing Page' },
      { type: 'track', name: 'Seats Added' },
    ]);
    expect(parsed(entries[1]?.context)).toMatchObject({
      url: `${app.url}/docs/pricing?ref=nav`,
      path: '/docs/pricing',
      title: 'Pricing',
      search: '?ref=nav',
    });
    expect(parsed(entries[2]?.metadata)).toEqual({ seats: 5 });
  }, 30_000);
});
