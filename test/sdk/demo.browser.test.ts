import { mkdir } from 'node:fs/promises';
import type { FastifyInstance } from 'fastify';
import Fastify from 'fastify';
import { launchChromium } from '../chromium.ts';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { demoRoutes } from '../../api/routes/demo/demo.routes.ts';
import { sdkRoutes } from '../../api/routes/sdk/sdk.routes.ts';
import { FakeClientApi, GOOD_HASH, KEY, USER } from './fake-client-api.ts';

/** Where the run leaves the demo page's screenshots (README "Quick start"). */
const SCREENSHOTS = new URL('../../.data/screenshots/', import.meta.url).pathname;

let configured: FastifyInstance;
let unconfigured: FastifyInstance;
let fake: FakeClientApi;
let browser: Browser;
let page: Page;
const problems: string[] = [];

beforeAll(async () => {
  await mkdir(SCREENSHOTS, { recursive: true });
  fake = new FakeClientApi();
  // The demo's banner (bin/demo/page-messages.json), as the matcher would send it for an upload.
  fake.onTrack = (body) => {
    if (body.name !== 'upload-completed') return;
    fake.add({
      decision_id: `upload-banner:${body.id}`,
      message_id: 'upload-banner',
      channel: 'banner',
      subject: `${String(body.metadata?.['file_name'])} is uploaded`,
      body: 'Share it with your team, Ada: they can comment on it right away.',
    });
  };
  configured = Fastify({ logger: false });
  await configured.register(sdkRoutes);
  await configured.register(demoRoutes, {
    demo: { key: KEY, userId: USER, userHash: GOOD_HASH },
    dashboardUrl: '/dashboard?key=</script><b>',
  });
  fake.register(configured);
  unconfigured = Fastify({ logger: false });
  await unconfigured.register(demoRoutes, {});
  await configured.listen({ host: '127.0.0.1', port: 0 });
  browser = await launchChromium();
  page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  page.on('console', (entry) => {
    if (entry.type() === 'error') problems.push(`console: ${entry.text()}`);
  });
  page.on('pageerror', (error) => problems.push(`page: ${error.message}`));
}, 60_000);

afterAll(async () => {
  await browser.close();
  fake.close();
  await configured.close();
  await unconfigured.close();
});

describe('the demo page', { timeout: 30_000 }, () => {
  it('says how to start the demo when the API was given no demo user', async () => {
    const answer = await unconfigured.inject({ method: 'GET', url: '/demo' });
    expect(answer.statusCode).toBe(200);
    expect(answer.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(answer.body).not.toContain('id="nudge-demo"');
    expect(answer.body).toContain('npm start');
    const script = await unconfigured.inject({ method: 'GET', url: '/demo/demo.js' });
    expect(script.headers['content-type']).toBe('text/javascript; charset=utf-8');
  });

  it('puts its configuration in the page as JSON no value can break out of', async () => {
    const answer = await configured.inject({ method: 'GET', url: '/demo' });
    const json =
      /<script type="application\/json" id="nudge-demo">(.*?)<\/script>/.exec(answer.body)?.[1] ?? '';
    expect(json).not.toContain('<');
    expect(JSON.parse(json)).toEqual({
      key: KEY,
      userId: USER,
      userHash: GOOD_HASH,
      dashboardUrl: '/dashboard?key=</script><b>',
    });
    expect(answer.headers['content-security-policy']).toContain("script-src 'self'");
  });

  it('boots, tracks an upload, shows its banner and lists it in the inbox, seen', async () => {
    const address = configured.server.address();
    const port = typeof address === 'object' && address !== null ? address.port : 0;
    await page.goto(`http://127.0.0.1:${port}/demo`);
    await page.waitForSelector('body[data-state="ready"]');
    expect(await page.textContent('#status')).toBe('Connected: messages arrive in real time');
    await page.getByRole('button', { name: 'Upload a file' }).click();
    const banner = page.locator('.nudge-banner');
    await banner.waitFor();
    expect(await banner.textContent()).toMatch(/ is uploaded/);
    const [tracked] = fake.tracks();
    expect(tracked?.name).toBe('upload-completed');
    expect(Object.keys(tracked?.metadata ?? {}).sort()).toEqual(['file_name', 'size_mb']);
    expect(tracked?.context['url']).toMatch(/\/demo$/);
    await page.locator('#inbox-list li').first().waitFor();
    await page.locator('#inbox-list li .state-seen').waitFor();
    expect(await page.locator('#inbox-list li').count()).toBe(1);
    expect(await page.locator('#files-table tbody tr').count()).toBe(1);
    // The demo's own identify, and the SDK's of the browser's timezone (sent once booted, in either order).
    const zone = await page.evaluate('Intl.DateTimeFormat().resolvedOptions().timeZone');
    expect(fake.identifies()).toHaveLength(2);
    expect(fake.identifies()).toEqual(
      expect.arrayContaining([{ first_name: 'Ada', email: `${USER}@example.com` }, { timezone: zone }]),
    );
    await page.mouse.move(0, 0);
    await page.screenshot({ path: `${SCREENSHOTS}sdk-demo.png`, animations: 'disabled' });
    expect(problems, problems.join('\n')).toEqual([]);
  });

  it('shows the page that says how to start, and nothing broken', async () => {
    await unconfigured.listen({ host: '127.0.0.1', port: 0 });
    const address = unconfigured.server.address();
    const port = typeof address === 'object' && address !== null ? address.port : 0;
    const other = await browser.newPage({ viewport: { width: 1280, height: 600 } });
    await other.goto(`http://127.0.0.1:${port}/demo`);
    await other.waitForSelector('body[data-state="unconfigured"]');
    expect(await other.isVisible('#setup')).toBe(true);
    expect(await other.isVisible('#app')).toBe(false);
    await other.screenshot({ path: `${SCREENSHOTS}sdk-demo-unconfigured.png` });
    await other.close();
  });
});
