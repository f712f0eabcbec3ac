import { mkdir } from 'node:fs/promises';
import { launchChromium } from '../chromium.ts';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clickhouseClient } from '../clickhouse-cli.ts';
import { apiFixture } from '../api/api-fixture.ts';
import { DAY, END, HOUR, recordTraffic, T0 } from '../api/recorded-traffic.ts';
import { recordDeliveryTraffic } from '../api/delivery-traffic.ts';
import { recordDemoBurst } from './demo-burst.ts';

/**
 * Where the run leaves its screenshots (README: "The dashboard"): the page, and the series and
 * funnel of a week that holds two hours of decisions. The tuning panel (what-if replays and sweeps
 * started from the page) has its own test, tuning.browser.test.ts.
 */
const SCREENSHOT = new URL('../../.data/screenshots/dashboard.png', import.meta.url).pathname;
const shot = (name: string) => SCREENSHOT.replace('.png', `-${name}.png`);
/** A day, well after the recorded traffic, holding only what the quick-start demo leaves: two hours of decisions. */
const DEMO_DAY = END + 10 * DAY;
/** A day apart from both, of sends to people who can and cannot be reached, and what became of them. */
const DELIVERY_DAY = END + 20 * DAY;

let api: Awaited<ReturnType<typeof apiFixture>>;
let base = '';
let browser: Browser;
let page: Page;
const problems: string[] = [];
let demo: { first: number; last: number };

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
const day = (ms: number) => new Date(ms).toISOString().slice(0, 10);

/** What the page's series chart draws (Chart.js's own instance): its labels, and each line's points. */
type SeriesShown = { labels: number; lines: Record<string, number[]> };
const seriesShown = (on: Page) =>
  on.evaluate<SeriesShown>(`(() => {
    const chart = Chart.getChart(document.querySelector('#series-chart'));
    return {
      labels: chart.data.labels.length,
      lines: Object.fromEntries(chart.data.datasets.map((d) => [d.label, d.data])),
    };
  })()`);
const total = (points: number[] | undefined) => (points ?? []).reduce((a, b) => a + b, 0);
/** Decisions by outcome, as ClickHouse counts them over a range. */
const byOutcome = async (from: number, to: number): Promise<Record<string, number>> =>
  Object.fromEntries(
    (
      await counted(
        `SELECT outcome, count() AS n FROM ${api.ns.database}.decisions FINAL
         WHERE at >= ${from} AND at < ${to} GROUP BY outcome`,
      )
    ).map((r): [string, number] => [r['outcome'] ?? '', Number(r['n'])]),
  );
/** The funnel's headers, as a person reads them: the groups' row, then the columns under them. */
const FUNNEL_HEADERS = [
  'message',
  'channel',
  'triggered',
  'not sent',
  'sent, and what became of it',
  'users reached',
  'filtered',
  'unsubscribed',
  'unreachable',
  'other suppressed',
  'sent',
  'delivered',
  'failed',
  'seen / opened',
  'clicked',
  'dismissed',
];
type Cells = Record<string, string>;
/**
 * The seen, clicked and dismissed cells of a row of `channel`, given what was counted: in-app
 * channels report all three, email its opens (seen), push seen and clicked; a dash for the rest.
 */
const actedShown = (channel: string, counted: { seen: string; clicked: string; dismissed?: string }) => {
  const inApp = channel === 'banner';
  return [
    inApp || channel === 'email' || channel === 'push' ? counted.seen : '–',
    inApp || channel === 'push' ? counted.clicked : '–',
    inApp ? (counted.dismissed ?? '0') : '–',
  ];
};
/** The funnel's rows as shown: each cell's figure by its column (a step's count without its share). */
const funnelShown = (on: Page) =>
  on.evaluate<Cells[]>(`[...document.querySelectorAll('#messages-table tbody tr.message')].map(
    (tr) => Object.fromEntries([...tr.querySelectorAll('td')].map((td) => [
      td.dataset.column,
      (td.querySelector('.count') ?? td).textContent.trim(),
    ])),
  )`);
/** The failure reasons shown under a message's row, as [reason, count]. */
const failuresShown = (on: Page, message: string) =>
  on.evaluate<[string, number][]>(`[...document.querySelectorAll(
    '#messages-table tr.failures[data-message=${JSON.stringify(message)}] .reason',
  )].map((chip) => [chip.firstChild.textContent.trim(), Number(chip.querySelector('b').textContent.replaceAll(',', ''))])`);
const watch = (on: Page) => {
  on.on('console', (message) => {
    if (message.type() === 'error') problems.push(`console: ${message.text()}`);
  });
  on.on('pageerror', (error) => problems.push(`page: ${error.message}`));
};

/** A page over the week that ends with the quick-start demo's day. */
async function demoWeek(): Promise<Page> {
  const week = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  watch(week);
  await week.goto(
    `${base}/dashboard?key=${api.keys.read}&from=${day(DEMO_DAY - 6 * DAY)}&to=${day(DEMO_DAY)}`,
  );
  await week.waitForSelector('body[data-state="ready"]', { timeout: 30_000 });
  return week;
}

beforeAll(async () => {
  api = await apiFixture();
  const { messages } = await recordTraffic(api);
  demo = await recordDemoBurst(api, messages, DEMO_DAY);
  await recordDeliveryTraffic(api, DELIVERY_DAY);
  await mkdir(new URL('.', `file://${SCREENSHOT}`).pathname, { recursive: true });
  base = await api.app.listen({ host: '127.0.0.1', port: 0 });
  browser = await launchChromium();
  page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  watch(page);
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
    const shown = await funnelShown(page);
    expect(
      shown.map((cells) => [
        cells['message'],
        asNumber(cells['triggered'] ?? ''),
        asNumber(cells['triggered'] ?? '') - asNumber(cells['filtered'] ?? ''),
        asNumber(cells['sent'] ?? ''),
      ]),
    ).toEqual(
      expected.map((r) => [r['message_id'], Number(r['triggered']), Number(r['passed']), Number(r['sent'])]),
    );
    expect(await page.locator('#messages-table thead th').allInnerTexts()).toEqual(FUNNEL_HEADERS);
    // Mail opens, pushes shown and clicked are reported by tracking links (none in the demo: 0);
    // what no channel reports is a dash rather than a zero.
    expect(shown.map((cells) => [cells['seen'], cells['clicked'], cells['dismissed']])).toEqual(
      shown.map((cells) => actedShown(cells['channel'] ?? '', { seen: '0', clicked: '0' })),
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

  it('draws decisions over time per hour over three recorded days, every decision once', async () => {
    expect(await text('#series-caption')).toBe('per hour, 2026-10-05 00:00 – 2026-10-08 00:00 UTC');
    const shown = await seriesShown(page);
    expect(shown.labels).toBe(72);
    const counts = await byOutcome(T0, END);
    for (const outcome of ['sent', 'suppressed', 'filtered'])
      expect(total(shown.lines[outcome]), outcome).toBe(counts[outcome] ?? 0);
  });

  it('draws a week that holds two hours of decisions (the quick-start demo) per minute, over those two hours', async () => {
    const week = await demoWeek();
    const caption = (await week.textContent('#series-caption')) ?? '';
    expect(caption).toMatch(/^per minute, 2026-10-18 13:0\d–15:1\d UTC/);
    const shown = await seriesShown(week);
    // One point a minute from the first decision's minute to the last's: about 128, not three dots.
    const minute = 60_000;
    expect(shown.labels).toBe(Math.floor(demo.last / minute) - Math.floor(demo.first / minute) + 1);
    expect(shown.labels).toBeGreaterThan(100);
    const counts = await byOutcome(DEMO_DAY - 6 * DAY, DEMO_DAY + DAY);
    for (const outcome of ['sent', 'suppressed', 'filtered'])
      expect(total(shown.lines[outcome]), outcome).toBe(counts[outcome] ?? 0);
    expect(counts['sent']).toBeGreaterThan(0);
    await week
      .locator('#series-chart')
      .locator('xpath=..')
      .screenshot({ path: shot('demo') });
    await week.close();
  });

  it('picks the bucket from the range: minutes over the last 6 hours, hours over the last 24, days over a month', async () => {
    const picked = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    watch(picked);
    // The page's clock 36 min 20 s after the recorded days end: "the last …" ends at the next whole
    // minute, 00:37, and hours still fall on the hour.
    const now = END + 37 * 60_000;
    await picked.clock.setFixedTime(now - 40_000);
    await picked.goto(`${base}/dashboard?key=${api.keys.read}&last=6h`);
    await picked.waitForSelector('body[data-state="ready"]', { timeout: 30_000 });
    const xTitle = () =>
      picked.evaluate<string>(
        `Chart.getChart(document.querySelector('#series-chart')).options.scales.x.title.text`,
      );
    const drawsEvery = async (from: number, to: number) => {
      const shown = await seriesShown(picked);
      const counts = await byOutcome(from, to);
      for (const outcome of ['sent', 'suppressed', 'filtered'])
        expect(total(shown.lines[outcome]), outcome).toBe(counts[outcome] ?? 0);
      return shown;
    };
    // Six hours: a point a minute, over all of them (the quiet half hour at the end too).
    expect(await picked.getByLabel('Range').inputValue()).toBe('6h');
    expect(await picked.textContent('#series-caption')).toBe(
      'per minute, 2026-10-07 18:37 – 2026-10-08 00:37 UTC',
    );
    expect(await xTitle()).toBe('time (UTC), per minute');
    expect((await drawsEvery(now - 6 * HOUR, now)).labels).toBe(360);
    await picked.locator('#series-panel').screenshot({ path: shot('last-6h') });
    const decided = total(Object.values(await byOutcome(now - 6 * HOUR, now)));
    expect(await picked.textContent('#status')).toBe(
      `the last 6 hours (2026-10-07 18:37 – 2026-10-08 00:37 UTC): ${decided} decisions`,
    );

    // A day, picked from the list (drawn at once): a point an hour, on the hour.
    await picked.getByLabel('Range').selectOption({ label: 'the last 24 hours' });
    await picked.waitForSelector('body[data-state="ready"]');
    expect(await picked.textContent('#series-caption')).toBe(
      'per hour, 2026-10-07 00:00 – 2026-10-08 01:00 UTC',
    );
    expect(await xTitle()).toBe('time (UTC), per hour');
    expect((await drawsEvery(now - DAY, now)).labels).toBe(25);

    // A month of dates holding decisions over 24 days (recorded, demo, deliveries): a point a day.
    await picked.getByLabel('Range').selectOption({ label: 'dates (From, To)' });
    await picked.waitForSelector('body[data-state="ready"]');
    await picked.getByLabel('From', { exact: true }).fill('2026-10-01');
    await picked.getByLabel('To', { exact: true }).fill('2026-10-31');
    await picked.getByRole('button', { name: 'Show' }).click();
    await picked.waitForSelector('#series-panel[data-bucket="day"]');
    await picked.waitForSelector('body[data-state="ready"]');
    expect(await picked.textContent('#series-caption')).toBe('per day, 2026-10-01 to 2026-10-31 UTC');
    expect(await xTitle()).toBe('time (UTC), per day');
    expect((await drawsEvery(Date.UTC(2026, 9, 1), Date.UTC(2026, 10, 1))).labels).toBe(31);
    await picked.close();
  });

  it("shows what people did with the demo's in-app banner (seen, clicked, dismissed) as ClickHouse counts them", async () => {
    const week = await demoWeek();
    const expected = await counted(
      `SELECT message_id, countIf(outcome = 'seen') AS seen, countIf(outcome = 'clicked') AS clicked,
        countIf(outcome = 'dismissed') AS dismissed FROM ${api.ns.database}.inapp_outcomes FINAL
       WHERE at >= ${DEMO_DAY - 6 * DAY} AND at < ${DEMO_DAY + DAY} GROUP BY message_id`,
    );
    const rows = await funnelShown(week);
    expect(expected.map((r) => r['message_id'])).toEqual(['upload-tip']);
    const banner = rows.find((cells) => cells['message'] === 'upload-tip') ?? {};
    const cell = (column: string) => asNumber(banner[column] ?? '');
    const shown = {
      sent: cell('sent'),
      seen: cell('seen'),
      clicked: cell('clicked'),
      dismissed: cell('dismissed'),
    };
    expect(banner['channel']).toBe('banner');
    // Nothing sends an in-app message but the page: no delivered or failed to report.
    expect([banner['delivered'], banner['failed']]).toEqual(['–', '–']);
    expect({ seen: shown.seen, clicked: shown.clicked, dismissed: shown.dismissed }).toEqual({
      seen: Number(expected[0]?.['seen']),
      clicked: Number(expected[0]?.['clicked']),
      dismissed: Number(expected[0]?.['dismissed']),
    });
    // Seen is a part of sent, clicked and dismissed parts of seen: the funnel narrows.
    expect(shown.seen).toBeGreaterThan(0);
    expect(shown.seen).toBeLessThan(shown.sent);
    expect(shown.clicked + shown.dismissed).toBeLessThanOrEqual(shown.seen);
    for (const cells of rows.filter((c) => c !== banner))
      expect([cells['seen'], cells['clicked'], cells['dismissed']]).toEqual(
        actedShown(cells['channel'] ?? '', { seen: '0', clicked: '0' }),
      );
    await week.locator('#funnel').screenshot({ path: shot('funnel') });
    await week.close();
  });

  it("shows each message's delivery funnel: delivered, failed and why, unsubscribed and unreachable, as ClickHouse counts them", async () => {
    const funnel = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    watch(funnel);
    await funnel.goto(
      `${base}/dashboard?key=${api.keys.read}&from=${day(DELIVERY_DAY)}&to=${day(DELIVERY_DAY)}`,
    );
    await funnel.waitForSelector('body[data-state="ready"]', { timeout: 30_000 });
    const range = (column: string) => `${column} >= ${DELIVERY_DAY} AND ${column} < ${DELIVERY_DAY + DAY}`;
    const decided = await counted(
      `SELECT message_id, channel, countIf(outcome = 'sent') AS sent,
        countIf(ifNull(reason, '') = 'unsubscribed') AS unsubscribed,
        countIf(ifNull(reason, '') = 'unreachable') AS unreachable
       FROM ${api.ns.database}.decisions FINAL WHERE ${range('at')} GROUP BY message_id, channel ORDER BY message_id, channel`,
    );
    const reported = await counted(
      `SELECT extract(decision_id, '^[^:]*') AS message_id, channel, countIf(outcome = 'delivered') AS delivered,
        countIf(outcome = 'failed') AS failed FROM ${api.ns.database}.delivery_outcomes FINAL
       WHERE ${range('at')} GROUP BY message_id, channel`,
    );
    const acted = await counted(
      `SELECT message_id, channel, countIf(outcome = 'seen') AS seen, countIf(outcome = 'clicked') AS clicked
       FROM ${api.ns.database}.inapp_outcomes FINAL WHERE ${range('at')} GROUP BY message_id, channel`,
    );
    const of = (list: Record<string, string>[], r: Record<string, string>, column: string) =>
      list.find((o) => o['message_id'] === r['message_id'] && o['channel'] === r['channel'])?.[column];
    const inApp = (r: Record<string, string>) => r['channel'] === 'banner';
    const shown = await funnelShown(funnel);
    expect(
      shown.map((cells) =>
        [
          'message',
          'channel',
          'sent',
          'delivered',
          'failed',
          'seen',
          'clicked',
          'unsubscribed',
          'unreachable',
        ].map((column) => cells[column]),
      ),
    ).toEqual(
      decided.map((r) => [
        r['message_id'],
        r['channel'],
        r['sent'],
        inApp(r) ? '–' : (of(reported, r, 'delivered') ?? '0'),
        inApp(r) ? '–' : (of(reported, r, 'failed') ?? '0'),
        ...actedShown(r['channel'] ?? '', {
          seen: of(acted, r, 'seen') ?? '0',
          clicked: of(acted, r, 'clicked') ?? '0',
        }).slice(0, 2),
        r['unsubscribed'],
        r['unreachable'],
      ]),
    );
    // The data under test: unsubscribed, unreachable and failed sends on both addressed channels,
    // mails opened, pushes shown and clicked.
    for (const channel of ['email', 'push']) {
      const row = shown.find((cells) => cells['channel'] === channel) ?? {};
      const columns = ['unsubscribed', 'unreachable', 'delivered', 'failed', 'seen'];
      for (const column of channel === 'push' ? [...columns, 'clicked'] : columns)
        expect(asNumber(row[column] ?? ''), `${channel} ${column}`).toBeGreaterThan(0);
    }
    // Under the mail's row, its commonest failure reasons, then the rest in one.
    const reasons = await counted(
      `SELECT reason, count() AS n FROM ${api.ns.database}.delivery_outcomes FINAL
       WHERE ${range('at')} AND outcome = 'failed' AND decision_id LIKE 'weekly-tip:%'
       GROUP BY reason ORDER BY n DESC, reason`,
    );
    const top = reasons.slice(0, 5).map((r): [string, number] => [r['reason'] ?? '', Number(r['n'])]);
    const rest = reasons.slice(5).reduce((a, r) => a + Number(r['n']), 0);
    expect(reasons.length).toBeGreaterThan(5);
    expect(await failuresShown(funnel, 'weekly-tip')).toEqual([...top, ['other reasons', rest]]);
    expect(await funnel.textContent('#messages-table tr.failures[data-message="weekly-tip"] .label')).toBe(
      `${top.reduce((a, [, n]) => a + n, rest)} sends failed:`,
    );
    await funnel.locator('#funnel').screenshot({ path: shot('delivery-funnel') });
    await funnel.close();
  });

  it('raised no error in the console, and leaves a screenshot', async () => {
    await page.setViewportSize({ width: 1280, height: 1500 });
    await page.evaluate('window.scrollTo(0, 0)');
    await page.screenshot({ path: SCREENSHOT });
    expect(problems, problems.join('\n')).toEqual([]);
  });
});
