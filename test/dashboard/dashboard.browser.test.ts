import { mkdir } from 'node:fs/promises';
import type { Browser, Page } from 'playwright-core';
import { chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clickhouseClient } from '../clickhouse-cli.ts';
import { apiFixture } from '../api/api-fixture.ts';
import { DAY, END, recordTraffic, T0 } from '../api/recorded-traffic.ts';

/** Where the run leaves its screenshots (README: "The dashboard"): the page, and its replay panel. */
const SCREENSHOT = new URL('../../.data/screenshots/dashboard.png', import.meta.url).pathname;

let api: Awaited<ReturnType<typeof apiFixture>>;
let base = '';
let browser: Browser;
let page: Page;
const problems: string[] = [];
let replayId = '';

/** Counts asked of ClickHouse by its own client, over `decisions FINAL`: independent of the page and the API. */
const counted = (query: string) => clickhouseClient<Record<string, string>>(query);

const text = async (selector: string) => (await page.textContent(selector))?.trim() ?? '';
/** A table's body rows, each as its cells' text (a row's inner text has its cells tab-separated). */
const tableRows = async (selector: string) =>
  (await page.locator(`${selector} tbody tr`).allInnerTexts()).map((row) =>
    row.split('\t').map((cell) => cell.trim()),
  );
const asNumber = (shown: string) => Number(shown.replaceAll(',', ''));
const final = () => `${api.ns.database}.decisions FINAL WHERE at >= ${T0} AND at < ${END}`;

beforeAll(async () => {
  api = await apiFixture();
  await recordTraffic(api);
  // A what-if replay to show: one send a day at most, against the recorded two.
  const started = await api.app.inject({
    method: 'POST',
    url: '/v1/replays',
    headers: { authorization: `Bearer ${api.keys.admin}` },
    payload: { from: T0, to: END, caps: [{ max: 1, per: '1d' }] },
  });
  replayId = (JSON.parse(started.body) as { replay_id: string }).replay_id;
  for (let i = 0; i < 200; i++) {
    const record = await api.app.inject({
      method: 'GET',
      url: `/v1/replays/${replayId}`,
      headers: { authorization: `Bearer ${api.keys.read}` },
    });
    if ((JSON.parse(record.body) as { status: string }).status !== 'running') break;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  base = await api.app.listen({ host: '127.0.0.1', port: 0 });
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  page.on('console', (message) => {
    if (message.type() === 'error') problems.push(`console: ${message.text()}`);
  });
  page.on('pageerror', (error) => problems.push(`page: ${error.message}`));
  const day = (ms: number) => new Date(ms).toISOString().slice(0, 10);
  await page.goto(`${base}/dashboard?key=${api.keys.read}&from=${day(T0)}&to=${day(END - DAY)}`);
  await page.waitForSelector('body[data-state="ready"]', { timeout: 30_000 });
}, 120_000);

afterAll(async () => {
  await browser.close();
  await api.close();
});

describe('the dashboard in headless Chromium, against recorded traffic', { timeout: 60_000 }, () => {
  it('shows the totals ClickHouse counts', async () => {
    const [row] = await counted(
      `SELECT count() AS decisions, countIf(outcome = 'sent') AS sent, countIf(outcome = 'suppressed') AS suppressed,
        countIf(outcome = 'filtered') AS filtered, uniqExactIf(user_id, outcome = 'sent') AS users FROM ${final()}`,
    );
    expect(asNumber(await text('#total-decisions'))).toBe(Number(row?.['decisions']));
    expect(asNumber(await text('#total-sent'))).toBe(Number(row?.['sent']));
    expect(asNumber(await text('#total-suppressed'))).toBe(Number(row?.['suppressed']));
    expect(asNumber(await text('#total-filtered'))).toBe(Number(row?.['filtered']));
    expect(asNumber(await text('#total-users'))).toBe(Number(row?.['users']));
    expect(Number(row?.['sent'])).toBeGreaterThan(0);
  });

  it('shows the funnel of every message and the reasons as ClickHouse counts them, and draws the charts', async () => {
    const expected = await counted(
      `SELECT message_id, count() AS triggered, countIf(outcome != 'filtered') AS passed, countIf(outcome = 'sent') AS sent
       FROM ${final()} GROUP BY message_id ORDER BY message_id`,
    );
    const shown = await tableRows('#messages-table');
    expect(
      shown.map((cells) => [cells[0], ...[2, 3, 4].map((i) => Number((cells[i] ?? '').replaceAll(',', '')))]),
    ).toEqual(
      expected.map((r) => [r['message_id'], Number(r['triggered']), Number(r['passed']), Number(r['sent'])]),
    );
    const reasons = await counted(
      `SELECT reason, count() AS n FROM ${final()} AND reason IS NOT NULL GROUP BY reason ORDER BY n DESC, reason`,
    );
    const reasonRows = await tableRows('#reasons-table');
    expect(
      Object.fromEntries(reasonRows.map(([r, n]) => [r, Number((n ?? '').replaceAll(',', ''))])),
    ).toEqual(Object.fromEntries(reasons.map((r) => [r['reason'], Number(r['n'])])));
    for (const chart of ['#series-chart', '#reasons-chart', '#frequency-chart'])
      expect((await page.$eval(chart, (canvas) => (canvas as unknown as { width: number }).width)) > 0).toBe(
        true,
      );
  });

  it("looks a user up: that user's decisions, newest first, with their explanations", async () => {
    await page.fill('#user-input', 'u3');
    await page.click('#user-form button');
    await page.waitForSelector('body[data-state="user-ready"]');
    const expected = await counted(
      `SELECT message_id, explanation FROM ${api.ns.database}.decisions FINAL WHERE user_id = 'u3'
       ORDER BY at DESC, decision_id DESC LIMIT 100`,
    );
    const shown = await tableRows('#user-table');
    expect(shown.map((cells) => [cells[1], cells[3]])).toEqual(
      expected.map((r) => [r['message_id'], r['explanation']]),
    );
    expect(shown.length).toBeGreaterThan(0);
  });

  it("shows a what-if replay's diff: per message before and after, and the flipped decisions", async () => {
    const record = JSON.parse(
      (
        await api.app.inject({
          method: 'GET',
          url: `/v1/replays/${replayId}`,
          headers: { authorization: `Bearer ${api.keys.read}` },
        })
      ).body,
    ) as {
      status: string;
      report: {
        flips: { total: number; first: unknown[] };
        messages: { message_id: string; before: { sent: number }; after: { sent: number } }[];
      };
    };
    expect(record.status).toBe('done');
    await page.fill('#replay-input', replayId);
    await page.click('#replay-form button');
    await page.waitForSelector('body[data-state="replay-ready"]');
    const rows = await tableRows('#replay-table');
    expect(
      rows.map((cells) => [
        cells[0],
        Number((cells[1] ?? '').replaceAll(',', '')),
        Number((cells[2] ?? '').replaceAll(',', '')),
      ]),
    ).toEqual(record.report.messages.map((m) => [m.message_id, m.before.sent, m.after.sent]));
    expect(await page.$$eval('#flips-table tbody tr', (trs) => trs.length)).toBe(
      record.report.flips.first.length,
    );
    expect(record.report.flips.total).toBeGreaterThan(0);
    expect(await text('#replay-summary')).toMatch(/decisions changed outcome/);
  });

  it('raised no error in the console, and leaves a screenshot', async () => {
    await mkdir(new URL('.', `file://${SCREENSHOT}`).pathname, { recursive: true });
    await page.setViewportSize({ width: 1280, height: 1500 });
    await page.evaluate('window.scrollTo(0, 0)');
    await page.screenshot({ path: SCREENSHOT });
    await page
      .locator('#replay-form')
      .locator('xpath=..')
      .screenshot({ path: SCREENSHOT.replace('.png', '-replay.png') });
    expect(problems, problems.join('\n')).toEqual([]);
  });
});
