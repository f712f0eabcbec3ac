import { mkdir } from 'node:fs/promises';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiFixture } from '../api/api-fixture.ts';
import { END, T0 } from '../api/recorded-traffic.ts';
import { recordTraffic } from '../api/recorded-traffic.ts';
import { launchChromium } from '../chromium.ts';

/**
 * The overview's tuning panel (issue #19) in headless Chromium, against the API on the real
 * services and three recorded days: a what-if replay and a sweep started from the page by its
 * labels, no id typed, their numbers against what `GET /v1/replays/:id` reports, and the runs of
 * the tab opened again. Screenshots in `.data/screenshots/tuning-*.png`.
 */
const SHOTS = new URL('../../.data/screenshots/', import.meta.url).pathname;
const shot = (name: string) => `${SHOTS}tuning-${name}.png`;
const day = (ms: number) => new Date(ms).toISOString().slice(0, 10);
/** The sweep run: the global cap's window (recorded: 2 sends per 1d), typed as a person would. */
const SWEPT = ['1h', '6h', '1d', '2d', '1w'];

let api: Awaited<ReturnType<typeof apiFixture>>;
let base = '';
let browser: Browser;
let page: Page;
const problems: string[] = [];

type Counts = { sent: number; suppressed: Record<string, number>; filtered: Record<string, number> };
type ReplayReport = {
  from: number;
  to: number;
  users_affected: number;
  users_reached: { before: number; after: number };
  messages: {
    message_id: string;
    before: Counts & { users_reached: number };
    after: Counts & { users_reached: number };
  }[];
  flips: { total: number; kinds: Record<string, number>; first: unknown[] };
};
type SweepReport = {
  recorded: { sent: number; users_reached: number };
  points: { value: number | null; sent: number; suppressed: Record<string, number>; users_reached: number }[];
};
type ReplayRecord = {
  replay_id: string;
  kind: string;
  status: string;
  entries_done: number;
  entries_total: number;
  params: { from: number; to: number };
  report: unknown;
};

const replayRecord = async (id: string) =>
  (
    await api.app.inject({
      method: 'GET',
      url: `/v1/replays/${id}`,
      headers: { authorization: `Bearer ${api.keys.read}` },
    })
  ).json<ReplayRecord>();
const asNumber = (shown: string | null) => Number((shown ?? '').replaceAll(',', '').replace('−', '-'));
const sum = (counts: Record<string, number>) => Object.values(counts).reduce((a, b) => a + b, 0);
/** A table's body rows, each as its cells' text. */
const tableRows = async (selector: string) =>
  (await page.locator(`${selector} tbody tr`).allInnerTexts()).map((row) =>
    row.split('\t').map((cell) => cell.trim()),
  );
const shownId = async () => (await page.getAttribute('#run-view', 'data-replay-id')) ?? '';
const diff = async (name: string) => asNumber(await page.textContent(`[data-diff="${name}"]`));

/** The shown run done: the tuning panel says so once its report is drawn. */
const done = () => page.waitForSelector('#tuning[data-state="done"]', { timeout: 30_000 });

beforeAll(async () => {
  api = await apiFixture();
  await recordTraffic(api);
  // The cap the traffic was recorded with, in force in the catalog: what the panel offers to change.
  await api.app.inject({
    method: 'PUT',
    url: '/v1/caps',
    headers: { authorization: `Bearer ${api.keys.admin}` },
    payload: { caps: [{ max: 2, per: '1d' }] },
  });
  await mkdir(SHOTS, { recursive: true });
  base = await api.app.listen({ host: '127.0.0.1', port: 0 });
  browser = await launchChromium();
  page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  page.on('console', (message) => {
    if (message.type() === 'error') problems.push(`console: ${message.text()}`);
  });
  page.on('pageerror', (error) => problems.push(`page: ${error.message}`));
  // An admin key: looking needs read, starting a run admin.
  await page.goto(`${base}/dashboard?key=${api.keys.admin}&from=${day(T0)}&to=${day(END - 1)}`);
  await page.waitForSelector('body[data-state="ready"]', { timeout: 30_000 });
  await page.waitForSelector('#tuning[data-catalog="ready"]');
}, 120_000);

afterAll(async () => {
  await browser.close();
  await api.close();
});

describe(
  "the overview's tuning panel in headless Chromium, against recorded traffic",
  { timeout: 60_000 },
  () => {
    it('names every control, so a person, a screen reader and a script find them the same way', async () => {
      for (const label of [
        'Range',
        'From',
        'To',
        'API key',
        'Replay over',
        'Change the limits of',
        'Minimum interval',
        'Maximum sends',
        'Limit to sweep',
        'Values',
      ])
        await expect(page.getByLabel(label, { exact: true }).count(), label).resolves.toBe(1);
      for (const name of ['Start replay', 'Start sweep', 'Show', 'Look up'])
        await expect(page.getByRole('button', { name, exact: true }).count(), name).resolves.toBe(1);
      expect(await page.getByRole('textbox', { name: 'User id' }).count()).toBe(1);
      // What the catalog holds is offered: each message, and the caps in force.
      expect(await page.locator('#whatif-target option').allInnerTexts()).toEqual([
        'nudge (sms, live)',
        'thanks (email, live)',
        'upload-ready (push, live)',
        'the global caps (2 sends per 1d)',
      ]);
      await page.getByLabel('Change the limits of').selectOption({ label: 'upload-ready (push, live)' });
      expect(await page.getByLabel('Minimum interval').inputValue()).toBe('2h');
      expect(await page.getByLabel('Maximum sends').inputValue()).toBe('');
    });

    it("replays the page's range with a message's minimum interval changed: progress, then the diff the API reports", async () => {
      await page.getByLabel('Change the limits of').selectOption({ label: 'upload-ready (push, live)' });
      await page.getByLabel('Minimum interval').fill('90 minutes');
      await page.getByRole('button', { name: 'Start replay' }).click();
      // Said on the field, in the message language, before anything is started.
      expect(await page.textContent('#whatif-error')).toContain('is not a duration');
      expect(await page.getAttribute('#whatif-min-interval', 'aria-invalid')).toBe('true');
      await page.getByLabel('Minimum interval').fill('30m');
      // The run takes well under a second here, too fast to see mid-way: the first answer the page
      // gets about it is held at half way (the API's own record, its progress set to half), and the
      // next ones, from the API as they are, wait until the page has been looked at.
      let held = false;
      let looked = () => {};
      const lookedAt = new Promise<void>((resolve) => (looked = resolve));
      await page.route('**/v1/replays/r_*', async (route) => {
        if (held) {
          await lookedAt;
          return route.fulfill({ response: await route.fetch() });
        }
        held = true;
        const response = await route.fetch();
        const record = (await response.json()) as ReplayRecord;
        return route.fulfill({
          response,
          json: { ...record, status: 'running', entries_done: 750, entries_total: 1_500, report: null },
        });
      });
      await page.getByRole('button', { name: 'Start replay' }).click();
      await page.waitForSelector('#run-progress-text:has-text("750 of")');
      expect(await page.textContent('#run-progress-text')).toBe('750 of 1,500 entries replayed');
      expect(await page.getByRole('progressbar', { name: 'Run progress' }).isVisible()).toBe(true);
      expect([
        await page.getAttribute('#run-bar', 'value'),
        await page.getAttribute('#run-bar', 'max'),
      ]).toEqual(['750', '1500']);
      expect(await page.textContent('#runs-table tbody tr:first-child .run-status')).toBe('running…');
      await page.locator('#tuning').screenshot({ path: shot('progress') });
      looked();
      await done();
      await page.unroute('**/v1/replays/r_*');

      const id = await shownId();
      const record = await replayRecord(id);
      expect(record.status).toBe('done');
      expect(record.params).toMatchObject({ from: T0, to: END });
      const report = record.report as ReplayReport;
      const total = (side: 'before' | 'after') => report.messages.reduce((n, m) => n + m[side].sent, 0);
      expect({
        sentBefore: await diff('sent-before'),
        sentAfter: await diff('sent-after'),
        usersBefore: await diff('users-before'),
        usersAfter: await diff('users-after'),
        affected: await diff('users-affected'),
        flips: await diff('flips'),
      }).toEqual({
        sentBefore: total('before'),
        sentAfter: total('after'),
        usersBefore: report.users_reached.before,
        usersAfter: report.users_reached.after,
        affected: report.users_affected,
        flips: report.flips.total,
      });
      expect(
        (await tableRows('#diff-messages')).map((cells) => [cells[0], ...cells.slice(1).map(asNumber)]),
      ).toEqual(
        report.messages.map((m) => [
          m.message_id,
          m.before.sent,
          m.after.sent,
          m.after.sent - m.before.sent,
          sum(m.before.suppressed),
          sum(m.after.suppressed),
          m.before.users_reached,
          m.after.users_reached,
        ]),
      );
      // Why not sent, by reason, summed over the messages, before and after.
      const reasons = new Map<string, { before: number; after: number }>();
      for (const m of report.messages)
        for (const outcome of ['suppressed', 'filtered'] as const)
          for (const side of ['before', 'after'] as const)
            for (const [reason, n] of Object.entries(m[side][outcome])) {
              const row = reasons.get(`${outcome}: ${reason}`) ?? { before: 0, after: 0 };
              row[side] += n;
              reasons.set(`${outcome}: ${reason}`, row);
            }
      const shownReasons = await tableRows('#diff-reasons');
      expect(
        Object.fromEntries(
          shownReasons.map((cells) => [
            cells[0],
            { before: asNumber(cells[1] ?? ''), after: asNumber(cells[2] ?? '') },
          ]),
        ),
      ).toEqual(Object.fromEntries(reasons));
      // The data under test: a shorter interval sends more of upload-ready, and some decisions flip.
      expect(total('after')).toBeGreaterThan(total('before'));
      expect(report.flips.total).toBeGreaterThan(0);
      expect(await page.locator('#diff-flips-table tbody tr').count()).toBe(report.flips.first.length);
      expect(await page.textContent('#run-title')).toBe('replay upload-ready: minimum interval 2h → 30m');
      await page.locator('#tuning').screenshot({ path: shot('replay') });
    });

    it("sweeps the global cap's window over values typed as the message language writes them, with a titled curve", async () => {
      await page.getByLabel('Limit to sweep').selectOption({ label: 'cap of 2 sends per 1d: its window' });
      // Values around the one in force are offered; these are typed out of order, and drawn in order.
      expect(await page.getByLabel('Values').inputValue()).toBe('8h, 12h, 1d, 2d, 3d');
      await page.getByLabel('Values').fill('1w, 1h, 6h, 1d, 2d');
      await page.getByRole('button', { name: 'Start sweep' }).click();
      await done();
      const record = await replayRecord(await shownId());
      expect(record.kind).toBe('sweep');
      const report = record.report as SweepReport;
      const rows = await tableRows('#sweep-table');
      expect(
        rows.map((cells) => [
          cells[0],
          asNumber(cells[1] ?? ''),
          asNumber(cells[3] ?? ''),
          asNumber(cells[4] ?? ''),
        ]),
      ).toEqual(report.points.map((p, i) => [SWEPT[i], p.sent, sum(p.suppressed), p.users_reached]));
      // At the window in force the replay is what ran: no difference.
      expect(rows[SWEPT.indexOf('1d')]?.[2]).toBe('0');
      expect(await page.locator('#sweep-table thead th').allInnerTexts()).toEqual([
        'cap window',
        'sends',
        'sends vs recorded',
        'suppressed',
        'users reached',
        'users vs recorded',
      ]);
      const axes = await page.evaluate<Record<string, string>>(`(() => {
      const { scales } = Chart.getChart(document.querySelector('#sweep-chart')).options;
      return Object.fromEntries(Object.entries(scales).map(([id, scale]) => [id, scale.title.display ? scale.title.text : '']));
    })()`);
      expect(axes).toEqual({
        x: "the cap's window (the time in which a user gets at most 2 sends)",
        y: 'sends and suppressions (decisions over the window)',
        users: 'users reached (users)',
      });
      expect(await page.textContent('#run-title')).toBe(
        'sweep the window of the global cap of 2 sends per 1d at 1h, 6h, 1d, 2d, 1w',
      );
      await page.locator('#tuning').screenshot({ path: shot('sweep') });
    });

    it('lists the runs of this tab, newest first, and opens one again with a click, after a reload too', async () => {
      await page.reload();
      await page.waitForSelector('body[data-state="ready"]', { timeout: 30_000 });
      const runs = page.locator('#runs-table tbody tr');
      expect(await runs.count()).toBe(2);
      expect(await runs.locator('.kind-chip').allInnerTexts()).toEqual(['sweep', 'replay']);
      expect(await runs.locator('.run-status').allInnerTexts()).toEqual(['done', 'done']);
      const replayId = (await runs.nth(1).getAttribute('data-replay-id')) ?? '';
      await page
        .getByRole('button', { name: /^Open the replay upload-ready: minimum interval 2h → 30m/ })
        .click();
      await done();
      expect(await shownId()).toBe(replayId);
      const report = (await replayRecord(replayId)).report as ReplayReport;
      expect(await diff('flips')).toBe(report.flips.total);
      // Listed where it was, newest first, marked as the one shown.
      expect(await page.getAttribute('#runs-table tr[aria-current="true"]', 'data-replay-id')).toBe(replayId);
      expect(await runs.nth(1).getAttribute('data-replay-id')).toBe(replayId);
    });

    it('replays with the global caps changed, in other dates', async () => {
      await page.getByLabel('Replay over').selectOption({ label: 'other dates' });
      await page.getByLabel('First day').fill(day(T0));
      await page.getByLabel('Last day').fill(day(T0));
      await page
        .getByLabel('Change the limits of')
        .selectOption({ label: 'the global caps (2 sends per 1d)' });
      await page.getByLabel('Cap 1: sends at most').fill('1');
      await page.locator('#whatif-form').screenshot({ path: shot('caps') });
      await page.getByRole('button', { name: 'Start replay' }).click();
      await done();
      const record = await replayRecord(await shownId());
      expect(record.params).toMatchObject({
        from: T0,
        to: T0 + 86_400_000,
        caps: [{ max: 1, per: 86_400_000 }],
      });
      const report = record.report as ReplayReport;
      expect(await diff('sent-after')).toBe(report.messages.reduce((n, m) => n + m.after.sent, 0));
      expect(await diff('sent-after')).toBeLessThan(await diff('sent-before'));
      expect(await page.textContent('#run-title')).toBe('replay global caps 2 sends per 1d → 1 send per 1d');
    });

    it('tells a person with a read key that starting a run needs an admin key, and starts none', async () => {
      const reader = await browser.newPage({ viewport: { width: 1280, height: 900 } });
      await reader.goto(`${base}/dashboard?key=${api.keys.read}&from=${day(T0)}&to=${day(END - 1)}`);
      await reader.waitForSelector('#tuning[data-catalog="ready"]', { timeout: 30_000 });
      await reader.getByRole('button', { name: 'Start sweep' }).click();
      await reader.waitForSelector('#tuning[data-state="failed"]');
      expect(await reader.textContent('#sweep-error')).toMatch(/^Starting the sweep needs an admin key: /);
      expect(await reader.isVisible('#run-view')).toBe(false);
      await reader.close();
    });

    it('raised no error in the console', () => {
      expect(problems, problems.join('\n')).toEqual([]);
    });
  },
);
