import { mkdir } from 'node:fs/promises';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newUnsubscribeSecret, signUnsubscribeToken } from '../../api/auth/unsubscribe-token.ts';
import type { LogEntry } from '../../pipeline/core/log-entry.ts';
import { launchChromium } from '../chromium.ts';
import { apiFixture } from './api-fixture.ts';
import { send } from './api-helpers.ts';

/** Where the run leaves its screenshots: the page a mail's link opens, after each button, on a phone, and for a bad link. */
const SCREENSHOTS = new URL('../../.data/screenshots/', import.meta.url).pathname;
const shot = (name: string) => `${SCREENSHOTS}unsubscribe-${name}.png`;

let f: Awaited<ReturnType<typeof apiFixture>>;
let browser: Browser;
let page: Page;
let base = '';
let secret = '';
/** Console errors and refused loads (a Content-Security-Policy that refused the page's own style would show here). */
const problems: string[] = [];
const link = (user: string) =>
  `${base}/v1/unsubscribe/${signUnsubscribeToken(secret, { user_id: user, message_id: 'weekly-tip', channel: 'email' })}`;

beforeAll(async () => {
  await mkdir(SCREENSHOTS, { recursive: true });
  f = await apiFixture();
  secret = await f.keyStore.ensureUnsubscribeSecret(newUnsubscribeSecret());
  const created = await send(f.app, {
    url: '/v1/messages',
    key: f.keys.admin,
    body: {
      id: 'weekly-tip',
      name: 'Weekly tip',
      channel: 'email',
      state: 'draft',
      trigger: { event: 'tip-due' },
      template: { body: 'Hi' },
    },
  });
  expect(created.statusCode, created.body).toBe(201);
  base = await f.app.listen({ host: '127.0.0.1', port: 0 });
  browser = await launchChromium();
  page = await browser.newPage({ viewport: { width: 1024, height: 640 } });
  page.on('console', (message) => {
    if (message.type() === 'error') problems.push(message.text());
  });
  page.on('pageerror', (error) => problems.push(error.message));
}, 60_000);

afterAll(async () => {
  await browser.close();
  await f.close();
});

const preferences = async (user: string) =>
  (await f.logged())
    .filter((entry): entry is Extract<LogEntry, { type: 'preferences' }> => entry.type === 'preferences')
    .filter((entry) => entry.user_id === user)
    .map((entry) => ({ channels: entry.channels, messages: entry.messages }));

describe('the unsubscribe page, in Chromium', () => {
  it('says what the link is for, with two labelled buttons, styled (the CSP lets its own style in)', async () => {
    const response = await page.goto(link('ada'));
    expect(response?.status()).toBe(200);
    await expect(page.title()).resolves.toBe('Unsubscribe');
    expect(await page.getByRole('heading', { level: 1 }).textContent()).toBe('Unsubscribe');
    expect(await page.getByRole('main').textContent()).toContain('Stop getting Weekly tip emails?');
    const one = page.getByRole('button', { name: 'Unsubscribe', exact: true });
    const all = page.getByRole('button', { name: 'Unsubscribe from all email' });
    expect(await one.count()).toBe(1);
    expect(await all.count()).toBe(1);
    const color = await page.evaluate<string>(
      `getComputedStyle(document.querySelector('button.primary')).backgroundColor`,
    );
    expect(color).toBe('rgb(9, 105, 218)');
    await page.screenshot({ path: shot('page') });
    expect(await preferences('ada')).toEqual([]);
  });

  it('"Unsubscribe" opts out of this message and says so; the next button opts out of all email', async () => {
    await page.getByRole('button', { name: 'Unsubscribe', exact: true }).click();
    await page.getByRole('heading', { level: 1, name: 'You are unsubscribed' }).waitFor();
    expect(await page.getByRole('main').textContent()).toContain('You won’t get Weekly tip emails any more.');
    await page.screenshot({ path: shot('done') });
    expect(await preferences('ada')).toEqual([{ channels: {}, messages: { 'weekly-tip': false } }]);

    await page.getByRole('button', { name: 'Unsubscribe from all email' }).click();
    await page.getByText('You won’t get any more emails from us.').waitFor();
    await page.screenshot({ path: shot('all') });
    expect(await preferences('ada')).toEqual([
      { channels: {}, messages: { 'weekly-tip': false } },
      { channels: { email: false }, messages: {} },
    ]);
  });

  it('reads on a phone', async () => {
    const phone = await browser.newPage({ viewport: { width: 375, height: 667 }, isMobile: true });
    try {
      await phone.goto(link('bea'));
      const width = await phone.evaluate<number>('document.documentElement.scrollWidth');
      expect(width).toBeLessThanOrEqual(375);
      await phone.screenshot({ path: shot('page-phone') });
    } finally {
      await phone.close();
    }
  });

  it('a link that is not ours: a 400 page that says what to do', async () => {
    const [payload] = new URL(link('cyd')).pathname.split('/').pop()?.split('.') ?? [];
    const response = await page.goto(`${base}/v1/unsubscribe/${payload ?? ''}.${'A'.repeat(43)}`);
    expect(response?.status()).toBe(400);
    expect(await page.getByRole('heading', { level: 1 }).textContent()).toBe(
      'This unsubscribe link doesn’t work',
    );
    await page.screenshot({ path: shot('invalid') });
  });

  it('raised no error in the console', () => {
    expect(problems.filter((problem) => !problem.includes('400 (Bad Request)'))).toEqual([]);
  });
});
