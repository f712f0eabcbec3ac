import { mkdir } from 'node:fs/promises';
import type { FastifyInstance } from 'fastify';
import Fastify from 'fastify';
import { launchChromium } from '../chromium.ts';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sdkRoutes } from '../../api/routes/sdk/sdk.routes.ts';
import type { InboxEntry } from '../../pipeline/ports/inbox.ts';
import { FakeClientApi, GOOD_HASH, KEY, USER } from './fake-client-api.ts';

/** Where the run leaves its screenshots (README "Show messages in your app"): one per rendered channel. */
const SCREENSHOTS = new URL('../../.data/screenshots/', import.meta.url).pathname;
const shot = (name: string) => `${SCREENSHOTS}sdk-render-${name}.png`;
const XSS = '<img src=x onerror=window.pwned=1>';

/** A product page as a customer's might be, loading the SDK as the README says. */
const PAGE = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Acme</title>
<style>body{margin:0;font:15px/1.5 system-ui,sans-serif;color:#1f2933;background:#f7f8fa}
header{padding:14px 32px;background:#fff;border-bottom:1px solid #e4e7eb;font-weight:700}
main{max-width:720px;margin:40px auto;padding:0 32px}p{color:#52606d}</style>
<script src="/sdk/nudge.js"></script></head>
<body><header>Acme Files</header><main><h1>Your files</h1>
<p>Three files uploaded this week. Drag a file here, or use the upload button, to add one.</p>
<p>Files are kept for 30 days in the free plan.</p></main></body></html>`;

let app: FastifyInstance;
let fake: FakeClientApi;
let base = '';
let browser: Browser;
let page: Page;
const problems: string[] = [];

const run = <T>(expression: string) => page.evaluate<T>(expression);
const boot = (hash = GOOD_HASH) =>
  run<{ ok: true } | { ok: false; name: string; status: number; code: string; message: string }>(
    `Nudge.boot({ key: ${JSON.stringify(KEY)}, userId: ${JSON.stringify(USER)}, userHash: ${JSON.stringify(hash)} })
      .then(() => ({ ok: true }), (e) => ({ ok: false, name: e.name, status: e.status, code: e.code, message: e.message }))`,
  );
const rendered = (decisionId: string) => page.locator(`[data-nudge-decision="${decisionId}"]`);
const until = async (check: () => boolean, what: string) => {
  for (let i = 0; i < 100 && !check(); i++) await new Promise((resolve) => setTimeout(resolve, 50));
  expect(check(), what).toBe(true);
};
let next = 0;
const message = (channel: InboxEntry['channel'], body: string, subject: string | null = null) => {
  next++;
  return { decision_id: `m-${channel}:e${next}`, message_id: `m-${channel}`, channel, subject, body };
};
/** Takes every rendered message off the page, so a screenshot shows one. */
const clear = () => run(`document.querySelectorAll('[data-nudge-message]').forEach((e) => e.remove())`);

beforeAll(async () => {
  await mkdir(SCREENSHOTS, { recursive: true });
  fake = new FakeClientApi();
  app = Fastify({ logger: false });
  await app.register(sdkRoutes);
  fake.register(app);
  app.get('/page', async (_request, reply) => reply.type('text/html; charset=utf-8').send(PAGE));
  base = await app.listen({ host: '127.0.0.1', port: 0 });
  browser = await launchChromium();
  page = await browser.newPage({ viewport: { width: 1100, height: 640 } });
  page.on('console', (entry) => {
    // A refused request is logged by Chromium itself: the test asks for one on purpose.
    if (entry.type() === 'error' && !entry.text().startsWith('Failed to load resource'))
      problems.push(`console: ${entry.text()}`);
  });
  page.on('pageerror', (error) => problems.push(`page: ${error.message}`));
  await page.goto(`${base}/page`);
}, 60_000);

afterAll(async () => {
  await browser.close();
  fake.close();
  await app.close();
});

describe('the SDK bundle route', () => {
  it('serves one script, cacheable for five minutes, revalidated by its ETag, loadable from any origin', async () => {
    const first = await app.inject({ method: 'GET', url: '/sdk/nudge.js' });
    expect(first.statusCode).toBe(200);
    expect(first.headers['content-type']).toBe('application/javascript; charset=utf-8');
    expect(first.headers['cache-control']).toBe('public, max-age=300');
    expect(first.headers['access-control-allow-origin']).toBe('*');
    const etag = String(first.headers.etag);
    expect(etag).toMatch(/^"[\w-]+"$/);
    expect(first.body.length).toBeGreaterThan(1000);
    expect(first.body).not.toMatch(/^\s*(import|export)\b/m);
    const again = await app.inject({
      method: 'GET',
      url: '/sdk/nudge.js',
      headers: { 'if-none-match': etag },
    });
    expect(again.statusCode).toBe(304);
    expect(again.body).toBe('');
    const other = await app.inject({
      method: 'GET',
      url: '/sdk/nudge.js',
      headers: { 'if-none-match': '"other"' },
    });
    expect(other.statusCode).toBe(200);
  });
});

describe('the SDK in headless Chromium, against a fake of the client routes', { timeout: 30_000 }, () => {
  it('defines window.Nudge and nothing else of its own', async () => {
    const api = await run<Record<string, string>>(
      `Object.fromEntries(Object.entries(window.Nudge).map(([k, v]) => [k, typeof v]))`,
    );
    for (const name of [
      'boot',
      'track',
      'identify',
      'inbox',
      'shutdown',
      'onMessage',
      'onStatus',
      'status',
      'timings',
    ])
      expect(api[name], name).toBe('function');
    expect(await run<string>('Nudge.status()')).toBe('idle');
    expect(await run<boolean>(`document.querySelector('style[data-nudge-style]') === null`)).toBe(true);
    const early = await run<{ code: string }>(`Nudge.track('x').catch((e) => ({ code: e.code }))`);
    expect(early.code).toBe('not_booted');
  });

  it("rejects boot with the API's error when the hash is refused, and stops", async () => {
    const refused = await boot('wrong');
    expect(refused).toEqual({
      ok: false,
      name: 'NudgeError',
      status: 403,
      code: 'user_not_verified',
      message: 'the user hash does not match the user id',
    });
    expect(await run<string>('Nudge.status()')).toBe('refused');
    expect(fake.connections).toBe(0);
    await run('Nudge.shutdown()');
  });

  it('rejects boot as unreachable when no API answers within its timeout, and stops trying', async () => {
    // Port 9 (discard) on loopback: nothing listens, every connection is refused at once.
    const unreachable = await run<{ code: string; status: number; message: string }>(
      `Nudge.boot({ api: 'http://127.0.0.1:9', key: ${JSON.stringify(KEY)}, userId: ${JSON.stringify(USER)}, userHash: ${JSON.stringify(GOOD_HASH)}, timeoutMs: 1500 })
        .then(() => ({ code: 'booted' }), (e) => ({ code: e.code, status: e.status, message: e.message }))`,
    );
    expect(unreachable).toMatchObject({ code: 'unreachable', status: 0 });
    expect(unreachable.message).toContain('http://127.0.0.1:9');
    expect(await run<string>('Nudge.status()')).toBe('stopped');
    await run('Nudge.shutdown()');
  });

  it('boots: renders the newest unseen message of each channel the inbox holds, marks it seen, lists the inbox', async () => {
    const older = fake.add(message('banner', 'An older banner'));
    const newer = fake.add(message('banner', 'Your upload is ready', 'Upload done'));
    const seenPost = fake.add(message('post', 'A post already seen'), { seen: true });
    const dismissedChat = fake.add(message('chat', 'A chat closed before'), { seen: true, dismissed: true });
    const tour = fake.add(message('tour', 'A tour: kept in the inbox only'));
    expect(await boot()).toEqual({ ok: true });
    expect(await run<string>('Nudge.status()')).toBe('connected');
    expect(await rendered(newer.decision_id).count()).toBe(1);
    for (const entry of [older, seenPost, dismissedChat, tour])
      expect(await rendered(entry.decision_id).count()).toBe(0);
    expect(await rendered(newer.decision_id).textContent()).toContain('Your upload is ready');
    expect(await rendered(newer.decision_id).getAttribute('data-nudge-message')).toBe('m-banner');
    await until(() => fake.marks('seen').includes(newer.decision_id), 'marked seen');
    const inbox = await run<Record<string, unknown>[]>('Nudge.inbox()');
    expect(inbox.map((m) => m['decision_id'])).toEqual(
      [tour, dismissedChat, seenPost, newer, older].map((e) => e.decision_id),
    );
    expect(Object.keys(inbox[0] ?? {}).sort()).toEqual(
      ['at', 'body', 'channel', 'decision_id', 'dismissed', 'message_id', 'seen', 'subject'].sort(),
    );
    expect(inbox[3]).toMatchObject({ seen: true, dismissed: false });
  });

  it('renders a template value holding markup as text, never as an element', async () => {
    const entry = fake.add(message('post', `Hello ${XSS}`, XSS));
    await rendered(entry.decision_id).waitFor();
    const element = rendered(entry.decision_id);
    expect(await element.locator('.nudge-subject').textContent()).toBe(XSS);
    expect(await element.locator('.nudge-body').textContent()).toBe(`Hello ${XSS}`);
    expect(await element.locator('img').count()).toBe(0);
    await page.waitForTimeout(200);
    expect(await run<unknown>('window.pwned')).toBeUndefined();
    await element.screenshot({ path: shot('xss') });
  });

  it('tracks with the page context, and times track → rendered with the page clock', async () => {
    fake.onTrack = (body) => {
      fake.add({
        decision_id: `upload-tip:${body.id}`,
        message_id: 'upload-tip',
        channel: 'banner',
        subject: null,
        body: `Tip: share ${String(body.metadata?.['file_name'])} with your team`,
      });
    };
    const result = await run<{ id: string; status: string }>(
      `Nudge.track('upload-completed', { file_name: 'talk.mp4', size_mb: 12.5 })`,
    );
    fake.onTrack = () => undefined;
    expect(result.status).toBe('accepted');
    const [sent] = fake.tracks().slice(-1);
    expect(sent).toEqual({
      id: result.id,
      name: 'upload-completed',
      metadata: { file_name: 'talk.mp4', size_mb: 12.5 },
      context: { url: `${base}/page`, time_on_page_s: expect.any(Number) as number },
    });
    expect(Number.isInteger(sent?.context['time_on_page_s'])).toBe(true);
    const banner = rendered(`upload-tip:${result.id}`);
    await banner.waitFor();
    expect(await banner.textContent()).toContain('Tip: share talk.mp4 with your team');
    const timings = await run<{
      tracks: { entry_id: string; tracked_at: number; answered_at: number | null }[];
      rendered: {
        decision_id: string;
        entry_id: string | null;
        at: number;
        rendered_at: number;
        tracked_at: number | null;
      }[];
    }>('Nudge.timings()');
    const timing = timings.rendered.find((r) => r.decision_id === `upload-tip:${result.id}`);
    const track = timings.tracks.find((t) => t.entry_id === result.id);
    expect(timing?.entry_id).toBe(result.id);
    expect(timing?.tracked_at).toBe(track?.tracked_at);
    expect((track?.answered_at ?? 0) - (track?.tracked_at ?? Infinity)).toBeGreaterThanOrEqual(0);
    expect(await run<number>('Nudge.timings({ clear: true }) && Nudge.timings().rendered.length')).toBe(0);
    expect((timing?.rendered_at ?? 0) - (timing?.tracked_at ?? Infinity)).toBeGreaterThanOrEqual(0);
    expect((timing?.rendered_at ?? 0) - (timing?.tracked_at ?? 0)).toBeLessThan(5_000);
  });

  it('reconnects after the stream ends, asks for what it missed, and hands each message once', async () => {
    const statuses = 'window.__statuses';
    await run(
      `${statuses} = []; Nudge.onStatus((s) => ${statuses}.push(s)); window.__count = 0; Nudge.onMessage(() => window.__count++)`,
    );
    const last = fake.entries.length;
    fake.drop();
    const missed = fake.add(message('chat', 'Sent while the page was cut off', 'Ada from Acme'));
    await rendered(missed.decision_id).waitFor();
    expect(fake.streamAsks.slice(-1)).toEqual([String(last)]);
    expect(await run<string[]>(statuses)).toEqual(['reconnecting', 'connected']);
    fake.repeat(missed);
    const live = fake.add(message('chat', 'And one more'));
    await rendered(live.decision_id).waitFor();
    expect(await run<number>('window.__count')).toBe(2);
    expect(await rendered(missed.decision_id).count()).toBe(1);
  });

  it('marks a close dismissed and a click clicked', async () => {
    const entry = fake.add(message('post', 'Share your upload with the team', 'Upload done'));
    await rendered(entry.decision_id).waitFor();
    await rendered(entry.decision_id).locator('.nudge-body').click();
    await until(() => fake.marks('clicked').includes(entry.decision_id), 'marked clicked');
    await rendered(entry.decision_id).getByRole('button', { name: 'Dismiss' }).click();
    expect(await rendered(entry.decision_id).count()).toBe(0);
    await until(() => fake.marks('dismissed').includes(entry.decision_id), 'marked dismissed');
    const inbox = await run<{ decision_id: string; dismissed: boolean }[]>('Nudge.inbox()');
    expect(inbox.find((m) => m.decision_id === entry.decision_id)?.dismissed).toBe(true);
  });

  it('asks a survey as one question and tracks the answer as survey-answered', async () => {
    const entry = fake.add(message('survey', 'How easy was it to share your file?', 'One question'));
    await rendered(entry.decision_id).waitFor();
    await rendered(entry.decision_id).getByRole('button', { name: '4' }).click();
    await until(() => fake.tracks().some((t) => t.name === 'survey-answered'), 'answer tracked');
    expect(fake.tracks().find((t) => t.name === 'survey-answered')?.metadata).toEqual({
      message_id: 'm-survey',
      decision_id: entry.decision_id,
      answer: 4,
    });
    expect(await rendered(entry.decision_id).textContent()).toContain('Thank you!');
  });

  it('renders each channel as its own, and leaves a screenshot of each', async () => {
    const samples = {
      banner: message(
        'banner',
        'talk.mp4 is uploaded: share it with your team in one click.',
        'Upload complete',
      ),
      post: message(
        'post',
        'Everyone you share talk.mp4 with can comment on it, no account needed.',
        'Share it with your team',
      ),
      chat: message('chat', 'Hi Ada! Need a hand sharing your upload? Just reply here.', 'Grace from Acme'),
      survey: message('survey', 'How easy was it to upload your file?', 'Quick question'),
    };
    for (const [channel, sample] of Object.entries(samples)) {
      await clear();
      fake.add(sample);
      await rendered(sample.decision_id).waitFor();
      const element = rendered(sample.decision_id);
      expect(await element.getAttribute('class')).toContain(`nudge-${channel}`);
      expect(await element.locator('[data-nudge-dismiss]').getAttribute('aria-label')).toBe('Dismiss');
      // The pointer away from the message: the shot shows it at rest, not hovered.
      await page.mouse.move(0, 0);
      await page.screenshot({ path: shot(channel), animations: 'disabled' });
    }
    await clear();
    for (const sample of Object.values(samples))
      fake.add({ ...sample, decision_id: `${sample.decision_id}-all` });
    await rendered(`${samples.survey.decision_id}-all`).waitFor();
    await page.screenshot({ path: shot('all'), animations: 'disabled' });
  });

  it('lets a page style win over the default style', async () => {
    await run(
      `document.head.append(Object.assign(document.createElement('style'), { textContent: '.nudge-banner { background: rgb(1, 2, 3) }' }))`,
    );
    const color = await run<string>(
      `getComputedStyle(document.querySelector('.nudge-banner')).backgroundColor`,
    );
    expect(color).toBe('rgb(1, 2, 3)');
  });

  it('shuts down: the connection closed, the messages off the page, calls refused', async () => {
    await run('Nudge.shutdown()');
    await until(() => fake.connections === 0, 'stream closed');
    expect(await page.locator('[data-nudge-message]').count()).toBe(0);
    expect(await run<string>('Nudge.status()')).toBe('stopped');
    expect(await run<{ code: string }>(`Nudge.track('x').catch((e) => ({ code: e.code }))`)).toEqual({
      code: 'not_booted',
    });
    expect(problems, problems.join('\n')).toEqual([]);
  });
});
