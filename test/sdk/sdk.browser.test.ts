import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { createServer as createHttpServer } from 'node:http';
import { createServer } from 'node:net';
import { createInterface } from 'node:readline';
import { ClickHouseLogLevel, createClient } from '@clickhouse/client';
import { Redis } from 'ioredis';
import { launchChromium } from '../chromium.ts';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newApiKey } from '../../api/auth/api-keys.ts';
import { userHash } from '../../api/auth/user-hash.ts';
import { applyMessages, ensureCatalogStream } from '../../pipeline/adapters/nats/catalog-stream.ts';
import { connectNats } from '../../pipeline/adapters/nats/connect-nats.ts';
import { RedisKeyStore } from '../../pipeline/adapters/redis/redis-key-store.ts';
import { loadConfig } from '../../pipeline/config/load-config.ts';
import { MessageSchema } from '../../pipeline/core/message-schema.ts';
import { partitionOf } from '../../pipeline/core/partition.ts';
import { RedisStateStore } from '../../pipeline/adapters/redis/redis-state-store.ts';
import { Namespace } from '../../pipeline/namespace.ts';
import type { Scope } from '../../pipeline/ports/key-store.ts';

/**
 * The web SDK in Debian's Chromium against the real API, matcher and services (issue #16): a
 * `nudge start` runs the matcher, and the pages talk to a `nudge api` of their own on a fixed
 * port, which one test restarts. Screenshots go to .data/screenshots/sdk-*.png.
 */
const root = new URL('../..', import.meta.url).pathname;
const SHOTS = new URL('../../.data/screenshots/', import.meta.url).pathname;
const config = loadConfig(process.env);
const ns = new Namespace(`t_${randomUUID().replaceAll('-', '').slice(0, 20)}`);
const SECRET = 'sdk-test-secret-0123456789abcdefghijklmnopqrstu';
const children: ChildProcess[] = [];
let port = 0;
let api = '';
let apiProcess: ChildProcess;
let clientKey = '';
let ingestKey = '';
let browser: Browser;

const BANNER = MessageSchema.parse({
  id: 'upload-banner',
  channel: 'banner',
  state: 'live',
  trigger: { event: 'upload-completed' },
  frequency: { min_interval: '1h' },
  global_cap_exempt: true,
  template: {
    subject: '{{ metadata.file_name }} is uploaded',
    body: 'Share it with your team, {{ user.first_name | fallback: "there" }}',
  },
});

/** What the functions evaluated in the pages use of them (the tests compile without the DOM's types). */
type Sdk = {
  boot(options: { api: string; key: string; userId: string; userHash: string }): Promise<void>;
  track(name: string, metadata?: Record<string, string | number>): Promise<unknown>;
  identify(attributes: Record<string, string | number>): Promise<unknown>;
  inbox(): Promise<Record<string, unknown>[]>;
  preferences(): Promise<{ channels: Record<string, false>; messages: Record<string, false> }>;
  setPreferences(change: { messages: Record<string, boolean | null> }): Promise<unknown>;
  subscribePush(options: { subscription: unknown }): Promise<unknown>;
};
declare const window: { Nudge?: Sdk };

const env = () => ({ ...process.env, NUDGE_NAMESPACE: ns.name, NUDGE_PARTITIONS: '4' });

/** A nudge command, until its API listens (the address it printed kept in `listening`). */
const listening = new Map<ChildProcess, string>();
async function nudge(command: 'start' | 'api', apiPort: number): Promise<ChildProcess> {
  const child = spawn(process.execPath, [`${root}bin/nudge.js`, command], {
    env: { ...env(), NUDGE_API_PORT: String(apiPort) },
    cwd: root,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.push(child);
  for await (const line of createInterface({ input: child.stdout })) {
    const address = /api: listening on (http:\/\/\S+)/.exec(line)?.[1];
    if (address !== undefined) {
      // Drained from now on: a full pipe would stop the process at its next line.
      child.stdout.resume();
      listening.set(child, address);
      return child;
    }
  }
  throw new Error(`nudge ${command} ended before its API listened`);
}

const stopped = async (child: ChildProcess) => {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  await new Promise((resolve) => child.once('exit', resolve));
};

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

beforeAll(async () => {
  const redis = new Redis(config.redisUrl);
  const store = new RedisKeyStore(redis, ns);
  await store.setClientSecret(SECRET);
  const key = async (scope: Scope) => {
    const made = newApiKey();
    await store.put({
      id: made.id,
      name: `sdk test ${scope}`,
      scopes: [scope],
      hash: made.hash,
      created_at: Date.now(),
      revoked_at: null,
    });
    return made.key;
  };
  clientKey = await key('client');
  ingestKey = await key('ingest');
  await redis.quit();
  const nc = await connectNats(config.natsUrl, 'sdk test');
  const jsm = await nc.jetstreamManager();
  await ensureCatalogStream(jsm, ns);
  await applyMessages(nc.jetstream(), jsm, ns, [BANNER], Date.now());
  await nc.drain();
  await nudge('start', 0);
  port = await freePort();
  apiProcess = await nudge('api', port);
  api = `http://127.0.0.1:${port}`;
  await mkdir(SHOTS, { recursive: true });
  browser = await launchChromium();
}, 120_000);

afterAll(async () => {
  await browser.close();
  for (const child of children) await stopped(child);
  const nc = await connectNats(config.natsUrl, 'sdk test cleanup');
  const jsm = await nc.jetstreamManager();
  for (const stream of ns.streams) await jsm.streams.delete(stream).catch(() => false);
  await nc.drain();
  const redis = new Redis(config.redisUrl);
  const keys = await redis.keys(`${ns.name}:*`);
  if (keys.length > 0) await redis.del(...keys);
  await redis.quit();
  const clickhouse = createClient({ url: config.clickhouseUrl, log: { level: ClickHouseLogLevel.OFF } });
  await clickhouse.command({ query: `DROP DATABASE IF EXISTS ${ns.database}` });
  await clickhouse.close();
}, 60_000);

/** A page of the customer's app (served by the API, so it has an http origin), the SDK loaded. */
async function pageOf(
  user: string,
  hash = userHash(SECRET, user),
  through = api,
): Promise<{ page: Page; booted: string }> {
  const page = await browser.newPage({ viewport: { width: 960, height: 540 } });
  // The demo page allows connections to its own origin only (its CSP): the page comes from the API it uses.
  await page.goto(`${through}/demo`);
  const booted = await page.evaluate(
    async (options) => {
      // The demo page boots itself when the quick start configured it; this one did not.
      const nudge = window.Nudge;
      if (nudge === undefined) return 'no window.Nudge';
      try {
        await nudge.boot(options);
        return 'booted';
      } catch (error) {
        const e = error as { status?: number; code?: string };
        return `refused ${String(e.status)} ${String(e.code)}`;
      }
    },
    { api: through, key: clientKey, userId: user, userHash: hash },
  );
  return { page, booted };
}

type Shown = { message: string; decision: string; text: string; html: string; dismiss: boolean };
/** The messages drawn in the page, as a person sees them (innerText) and as markup. */
const rendered = (page: Page) =>
  page.evaluate<Shown[]>(`[...document.querySelectorAll('[data-nudge-message]')].map((e) => ({
    message: e.getAttribute('data-nudge-message'),
    decision: e.getAttribute('data-nudge-decision'),
    text: e.innerText,
    html: e.innerHTML,
    dismiss: e.querySelector('[data-nudge-dismiss]') !== null,
  }))`);

const track = (page: Page, fileName: string) =>
  page.evaluate(
    (name) =>
      window.Nudge?.track('upload-completed', { file_name: name }) ?? Promise.reject(new Error('no SDK')),
    fileName,
  );

/** Tracked from the customer's server (an ingest key), as a send made while no page is open. */
async function trackFromServer(user: string, fileName: string, through = api): Promise<void> {
  const response = await fetch(`${through}/v1/events`, {
    method: 'POST',
    headers: { authorization: `Bearer ${ingestKey}`, 'content-type': 'application/json' },
    body: JSON.stringify({
      type: 'track',
      name: 'upload-completed',
      user_id: user,
      metadata: { file_name: fileName },
    }),
  });
  expect(response.status).toBe(202);
}

async function until<T>(probe: () => Promise<T>, ok: (value: T) => boolean, ms = 15_000): Promise<T> {
  const deadline = Date.now() + ms;
  let value = await probe();
  while (!ok(value) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 150));
    value = await probe();
  }
  return value;
}

describe('the web SDK in Chromium', { timeout: 90_000 }, () => {
  it('shows the banner of an event it tracked, with the rendered metadata; the second within the hour shows nothing', async () => {
    const { page, booted } = await pageOf('ada');
    expect(booted).toBe('booted');
    await page.evaluate(() => window.Nudge?.identify({ first_name: 'Ada' }));
    await track(page, 'talk.mp4');
    const shown = await until(
      () => rendered(page),
      (list) => list.length > 0,
    );
    expect(shown).toEqual([
      expect.objectContaining({
        message: 'upload-banner',
        text: expect.stringContaining('talk.mp4 is uploaded') as unknown,
        dismiss: true,
      }),
    ]);
    await page.screenshot({ path: `${SHOTS}sdk-banner.png` });
    // Closed, then a second upload within the min interval: suppressed, so nothing comes.
    await page.click('[data-nudge-dismiss]');
    await until(
      () => rendered(page),
      (list) => list.length === 0,
    );
    await track(page, 'second.mp4');
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    expect(await rendered(page)).toEqual([]);
    const inbox = await page.evaluate(() => window.Nudge?.inbox());
    expect(inbox).toHaveLength(1);
    expect(inbox?.[0]).toMatchObject({ message_id: 'upload-banner', seen: true, dismissed: true });
    await page.close();
  });

  it('a send made while no page was open is in the inbox at the next boot', async () => {
    await trackFromServer('bea', 'offline.mp4');
    // The matcher decides, the inbox writer stores: wait for the inbox, then open a page.
    const { page, booted } = await pageOf('bea');
    expect(booted).toBe('booted');
    const inbox = await until(
      () => page.evaluate(() => window.Nudge?.inbox() ?? Promise.resolve([])),
      (list) => list.length > 0,
    );
    expect(inbox[0]).toMatchObject({
      message_id: 'upload-banner',
      channel: 'banner',
      subject: 'offline.mp4 is uploaded',
      body: 'Share it with your team, there',
      dismissed: false,
    });
    expect(Object.keys(inbox[0] ?? {}).sort()).toEqual(
      ['at', 'body', 'channel', 'decision_id', 'dismissed', 'message_id', 'seen', 'subject'].sort(),
    );
    await page.close();
  });

  it('two tabs of one user both show the send, each connected to another API process', async () => {
    // The second tab's stream goes to the matcher's process's API: the send is heard by both.
    const other = listening.get(children[0] ?? apiProcess) ?? '';
    const [one, two] = [await pageOf('cleo'), await pageOf('cleo', userHash(SECRET, 'cleo'), other)];
    expect([one.booted, two.booted]).toEqual(['booted', 'booted']);
    await track(one.page, 'both.mp4');
    for (const { page } of [one, two]) {
      const shown = await until(
        () => rendered(page),
        (list) => list.length > 0,
      );
      expect(shown[0]?.text).toContain('both.mp4 is uploaded');
    }
    await two.page.screenshot({ path: `${SHOTS}sdk-second-tab.png` });
    await one.page.close();
    await two.page.close();
  });

  it('a wrong userHash is refused: boot rejects with the API error', async () => {
    const { page, booted } = await pageOf('dan', userHash('another secret', 'dan'));
    expect(booted).toBe('refused 403 user_not_verified');
    await page.close();
  });

  it('a template value holding markup renders as text, and runs nothing', async () => {
    const { page } = await pageOf('eve');
    const hostile = '<img src=x onerror="window.pwned=1">';
    await track(page, hostile);
    const shown = await until(
      () => rendered(page),
      (list) => list.length > 0,
    );
    expect(shown[0]?.text).toContain(`${hostile} is uploaded`);
    expect(shown[0]?.html).not.toContain('<img');
    expect(await page.evaluate(() => (window as unknown as { pwned?: number }).pwned)).toBeUndefined();
    expect(await page.$$('[data-nudge-message] img')).toEqual([]);
    await page.screenshot({ path: `${SHOTS}sdk-markup-as-text.png` });
    await page.close();
  });

  it('sets and reads preferences, and adds a push subscription to the user', async () => {
    const { page, booted } = await pageOf('gus');
    expect(booted).toBe('booted');
    const set = await page.evaluate(() => window.Nudge?.setPreferences({ messages: { x: false } }));
    expect(set).toMatchObject({ preferences: { channels: {}, messages: { x: false } } });
    // Read from the user's state: there once the matcher applied the entry.
    const preferences = await until(
      () => page.evaluate(() => window.Nudge?.preferences() ?? Promise.resolve(undefined)),
      (got) => got?.messages['x'] === false,
    );
    expect(preferences).toEqual({ channels: {}, messages: { x: false } });
    const subscription = {
      endpoint: 'https://push.example/send/gus-1',
      // What PushSubscription.toJSON() gives: expirationTime is not sent.
      expirationTime: null,
      keys: {
        p256dh: 'BNcRdreALRFXTkOOUHK1EtK2wtaz5Ry4YfYCA_0QTpQtUbVlUls0VJXg7A8u-Ts1XbjhazAkj7I99e8QcYP7DkM',
        auth: 'tBHItJI5svbpez7KI4CCXg',
      },
    };
    const added = await page.evaluate(
      (given) => window.Nudge?.subscribePush({ subscription: given }),
      subscription,
    );
    expect(added).toMatchObject({ action: 'add', subscription: { endpoint: subscription.endpoint } });
    const redis = new Redis(config.redisUrl);
    const states = new RedisStateStore(redis, ns);
    const state = await until(
      async () => (await states.load(partitionOf('gus', 4), ['gus'])).states[0],
      (got) => got?.push !== undefined,
    );
    await redis.quit();
    expect(state?.push).toEqual([{ endpoint: subscription.endpoint, keys: subscription.keys }]);
    expect(state?.optouts).toEqual(['message:x']);
    // Subscribing the browser itself: its service worker registered, then the VAPID key asked for,
    // which this deployment has none of (no "nudge keys vapid").
    const refused = await page.evaluate(
      `Nudge.subscribePush({ serviceWorker: '/sdk/nudge-sw.js' }).then(() => 'subscribed', (e) => e.status + ' ' + e.code)`,
    );
    expect(refused).toBe('404 push_not_configured');
    await page.close();
  });

  it("tells the API the browser's timezone at boot, once per change, so a schedule in user time reads it", async () => {
    const context = await browser.newContext({ timezoneId: 'Asia/Tokyo' });
    const page = await context.newPage();
    await page.goto(`${api}/demo`);
    const boot = () =>
      page.evaluate((options) => window.Nudge?.boot(options).then(() => 'booted'), {
        api,
        key: clientKey,
        userId: 'hana',
        userHash: userHash(SECRET, 'hana'),
      });
    expect(await boot()).toBe('booted');
    const redis = new Redis(config.redisUrl);
    const states = new RedisStateStore(redis, ns);
    const state = await until(
      async () => (await states.load(partitionOf('hana', 4), ['hana'])).states[0],
      (got) => got?.attributes['timezone'] !== undefined,
    );
    await redis.quit();
    expect(state?.attributes['timezone']).toBe('Asia/Tokyo');
    // Kept in the browser: the next boot of this user finds the same zone and sends nothing.
    expect(await boot()).toBe('booted');
    expect(await page.evaluate("localStorage.getItem('nudge:timezone:hana')")).toBe('Asia/Tokyo');
    await context.close();
  });

  it("the service worker a site's own sw.js imports shows a push as a notification", async () => {
    // The site's origin is not the API's: its sw.js imports the API's worker, as README says.
    const reported: string[] = [];
    const site = createHttpServer((request, response) => {
      if (request.url?.startsWith('/track/') === true) {
        // Where the push's tracking link points here: what the worker reports, as the API would take it.
        reported.push(`${request.method ?? ''} ${request.url}`);
        response.writeHead(204);
        response.end();
        return;
      }
      if (request.url === '/sw.js') {
        response.writeHead(200, { 'content-type': 'application/javascript' });
        response.end(`importScripts(${JSON.stringify(`${api}/sdk/nudge-sw.js`)});`);
        return;
      }
      response.writeHead(200, { 'content-type': 'text/html' });
      response.end('<!doctype html><title>site</title>');
    });
    await new Promise<void>((resolve) => site.listen(0, '127.0.0.1', resolve));
    const address = site.address();
    const origin = typeof address === 'object' && address !== null ? `http://127.0.0.1:${address.port}` : '';
    const context = await browser.newContext();
    await context.grantPermissions(['notifications'], { origin });
    const page = await context.newPage();
    await page.goto(`${origin}/`);
    const cdp = await context.newCDPSession(page);
    const registrations: { registrationId: string; scopeURL: string }[] = [];
    cdp.on('ServiceWorker.workerRegistrationUpdated', (event) => registrations.push(...event.registrations));
    await cdp.send('ServiceWorker.enable');
    // Strings: the tests compile without the DOM's types.
    await page.evaluate(
      `navigator.serviceWorker.register('/sw.js').then(() => navigator.serviceWorker.ready)`,
    );
    const registration = await until(
      () => Promise.resolve(registrations.find((r) => r.scopeURL === `${origin}/`)),
      (found) => found !== undefined,
      30_000,
    );
    const registrationId = registration?.registrationId ?? '';
    // What the push sender sends, delivered as a push service would (Chromium's DevTools protocol).
    const payload = {
      subject: 'Upload done',
      body: 'talk.mp4 is ready',
      decision_id: 'd-1',
      message_id: 'upload-ready',
      track: `${origin}/track/t0ken`,
    };
    type Notified = { title: string; body: string; tag: string; data: unknown };
    const notifications = () =>
      page.evaluate<Notified[]>(`navigator.serviceWorker.ready
        .then((registration) => registration.getNotifications())
        .then((list) => list.map((n) => ({ title: n.title, body: n.body, tag: n.tag, data: n.data })))`);
    // A push delivered while the worker is still starting can be lost on a loaded machine: delivered
    // again until it shows (one tag per decision, so a second delivery replaces the first).
    const shown = await until(
      async () => {
        await cdp.send('ServiceWorker.deliverPushMessage', {
          origin,
          registrationId,
          data: JSON.stringify(payload),
        });
        await new Promise((resolve) => setTimeout(resolve, 300));
        return notifications();
      },
      (list) => list.length > 0,
      30_000,
    );
    expect(shown).toEqual([
      {
        title: 'Upload done',
        body: 'talk.mp4 is ready',
        tag: 'd-1',
        data: { decision_id: 'd-1', message_id: 'upload-ready', track: `${origin}/track/t0ken` },
      },
    ]);
    // Shown, so reported seen (once a delivery: a push delivered again above reports again).
    const seen = await until(
      () => Promise.resolve(reported.filter((r) => r === 'POST /track/t0ken/seen').length),
      (count) => count > 0,
    );
    expect(seen).toBeGreaterThan(0);
    expect(reported.every((r) => r === 'POST /track/t0ken/seen')).toBe(true);
    await context.close();
    await new Promise((resolve) => site.close(resolve));
  });

  it('reconnects after the API process restarts, and misses nothing, twice nothing', async () => {
    const { page, booted } = await pageOf('finn');
    expect(booted).toBe('booted');
    await stopped(apiProcess);
    // Sent while the page's API is down: through the matcher's process's API (it listens too).
    await trackFromServer('finn', 'while-down.mp4', listening.get(children[0] ?? apiProcess));
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    apiProcess = await nudge('api', port);
    const shown = await until(
      () => rendered(page),
      (list) => list.length > 0,
      30_000,
    );
    expect(shown.map((m) => m.text)).toEqual([expect.stringContaining('while-down.mp4 is uploaded')]);
    // Live again after the reconnect; and still one element per send.
    await page.click('[data-nudge-dismiss]');
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    expect(await rendered(page)).toEqual([]);
    const inbox = await page.evaluate(() => window.Nudge?.inbox() ?? Promise.resolve([]));
    expect(inbox.map((m) => m['subject'])).toEqual(['while-down.mp4 is uploaded']);
    await page.close();
  });
});
