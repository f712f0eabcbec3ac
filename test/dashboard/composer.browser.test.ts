import { mkdir } from 'node:fs/promises';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runMatcher } from '../../bin/start-command.ts';
import { loadConfig } from '../../pipeline/config/load-config.ts';
import { launchChromium } from '../chromium.ts';
import { apiFixture, PARTITIONS } from '../api/api-fixture.ts';

/** Where the run leaves a screenshot of each step (README "The dashboard"). */
const SCREENSHOTS = new URL('../../.data/screenshots/', import.meta.url).pathname;
const shot = (name: string) => `${SCREENSHOTS}composer-${name}.png`;

/** Six users, each with four uploads a moment apart: two short, two long (the seed's `duration_s > 120`). */
const USERS = ['ada', 'grace', 'linus', 'margaret', 'ken', 'barbara'];
const DURATIONS = [30, 150, 200, 45];
const UPLOADS = USERS.length * DURATIONS.length;
/** The seed's message as the composer is to make it, and as `POST /v1/replays` is given it (live, to be replayed). */
const BODY = '{{ metadata.file_name }} is ready, {{ user.first_name | fallback: "there" }}';
const SEED = {
  id: 'upload-ready',
  channel: 'email',
  state: 'live',
  trigger: { event: 'upload-completed', where: { field: 'metadata.duration_s', op: 'gt', value: 120 } },
  frequency: { min_interval: '1h' },
  template: { subject: 'Upload done', body: BODY },
};

let api: Awaited<ReturnType<typeof apiFixture>>;
let base = '';
let browser: Browser;
let page: Page;
const stop = new AbortController();
let matcher: Promise<void>;
/** What the matcher reported: its "rules: …" lines say which message versions it decides with. */
const reported: string[] = [];
const problems: string[] = [];

type Answer = { status: number; body: Record<string, unknown> };
async function call(method: 'GET' | 'POST' | 'PUT', url: string, payload?: object): Promise<Answer> {
  const response = await api.app.inject({
    method,
    url,
    headers: { authorization: `Bearer ${api.keys.admin}` },
    ...(payload === undefined ? {} : { payload }),
  });
  return { status: response.statusCode, body: JSON.parse(response.body) as Record<string, unknown> };
}

/** Polls `read` until `done` holds of what it gives (the matcher and the audit writers run on their own time). */
async function until<T>(read: () => Promise<T>, done: (value: T) => boolean, what: string): Promise<T> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}: ${JSON.stringify(value)}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

type Counts = { sent: number; suppressed: Record<string, number>; users_reached: number };
type Report = {
  from: number;
  to: number;
  users_affected: number;
  messages: { message_id: string; before: Counts; after: Counts }[];
  flips: { total: number; first: unknown[] };
};
const replayOf = async (id: string) =>
  until(
    async () => (await call('GET', `/v1/replays/${id}`)).body as { status: string; report: Report },
    (r) => r.status !== 'running',
    `replay ${id}`,
  );

const uploads = (user: string, first: number) =>
  DURATIONS.map((duration_s, i) => ({
    type: 'track',
    id: `${user}-upload-${first + i}`,
    name: 'upload-completed',
    user_id: user,
    metadata: { file_name: `clip-${first + i}.mp4`, duration_s },
    context: { url: 'https://app.example/uploads' },
  }));

beforeAll(async () => {
  // The API's own clock: the impact preview replays "the last 7 days" up to now.
  api = await apiFixture({ now: Date.now });
  // What was decided before the composer: an in-app tip on every upload, under a cap of 3 a day.
  expect(
    (
      await call('POST', '/v1/messages', {
        id: 'upload-tip',
        channel: 'banner',
        state: 'live',
        trigger: { event: 'upload-completed' },
        template: { body: 'Tip: share {{ metadata.file_name }} with your team' },
      })
    ).status,
  ).toBe(201);
  expect((await call('PUT', '/v1/caps', { caps: [{ max: 3, per: '1d' }] })).status).toBe(200);
  const config = { ...loadConfig(process.env), namespace: api.ns.name, partitions: PARTITIONS };
  matcher = runMatcher(config, stop.signal, (line) => reported.push(line), api.metrics);
  const people = USERS.map((user, i) => ({
    type: 'identify',
    id: `${user}-profile`,
    user_id: user,
    attributes: {
      first_name: `${user.slice(0, 1).toUpperCase()}${user.slice(1)}`,
      email: `${user}@example.com`,
      plan: i % 2 ? 'pro' : 'free',
    },
  }));
  const events = [...people, ...USERS.flatMap((user, i) => uploads(user, i * 10))];
  expect((await call('POST', '/v1/events', { events })).status).toBe(202);
  // The audit has it all: every upload decided for the tip, and every entry in the log's audit.
  await until(
    async () => (await call('GET', '/v1/stats/messages?from=now-1h&to=now')).body,
    (stats) => (stats['messages'] as { triggered: number }[])[0]?.triggered === UPLOADS,
    'the decisions of the recorded uploads',
  );
  await until(
    async () => (await call('GET', '/v1/catalog/events')).body,
    (catalog) => (catalog['events'] as { entries: number }[])[0]?.entries === UPLOADS,
    'the recorded uploads in the audit',
  );
  await until(
    async () => (await call('GET', '/v1/catalog/attributes')).body['attributes'] as { users: number }[],
    (attributes) => attributes.length === 3 && attributes.every((a) => a.users === USERS.length),
    "the identified users' attributes in their catalog",
  );
  await mkdir(SCREENSHOTS, { recursive: true });
  base = await api.app.listen({ host: '127.0.0.1', port: 0 });
  browser = await launchChromium();
  page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  // A step that cannot happen fails in seconds, not in the default half minute.
  page.setDefaultTimeout(10_000);
  // A refusal is a problem unless it is the answer asked for: a definition checked as it is typed.
  page.on('console', (message) => {
    if (message.type() === 'error' && !message.text().startsWith('Failed to load resource'))
      problems.push(`console: ${message.text()}`);
  });
  page.on('response', (response) => {
    const path = new URL(response.url()).pathname;
    const checking = path === '/v1/messages/validate' || path === '/v1/messages/preview';
    if (response.status() >= 400 && !(checking && response.status() === 400))
      problems.push(`${response.request().method()} ${path}: ${response.status()}`);
  });
  page.on('pageerror', (error) => problems.push(`page: ${error.message}`));
  await page.goto(`${base}/dashboard/messages?key=${api.keys.admin}`);
  await page.waitForSelector('body[data-state="ready"]');
}, 60_000);

afterAll(async () => {
  await browser.close();
  stop.abort();
  await matcher;
  await api.close();
});

/** The whole page from its top (the preview beside the composer sticks to the top of the window as it scrolls). */
async function fullPage(name: string) {
  await page.evaluate('window.scrollTo(0, 0)');
  await page.screenshot({ path: shot(name), fullPage: true });
}
/** The box around elements (in the page), with a margin: a screenshot of a popup and what it belongs to. */
async function around(selectors: string[]) {
  const boxes = await Promise.all(selectors.map((s) => page.locator(s).boundingBox()));
  const scrolled = await page.evaluate<number>('window.scrollY');
  for (const box of boxes) if (box) box.y += scrolled;
  const [x, y] = [
    Math.min(...boxes.map((b) => b?.x ?? 0)) - 16,
    Math.min(...boxes.map((b) => b?.y ?? 0)) - 16,
  ];
  const right = Math.max(...boxes.map((b) => (b ? b.x + b.width : 0))) + 16;
  const bottom = Math.max(...boxes.map((b) => (b ? b.y + b.height : 0))) + 16;
  return { x, y, width: right - x, height: bottom - y };
}
const composer = () => page.getByRole('form', { name: /New message|upload-ready/ });
const row = (id: string) => page.locator(`#message-list tr[data-message="${id}"]`);

describe(
  'the composer in headless Chromium, through the seed example, against the API and the pipeline',
  { timeout: 30_000 },
  () => {
    it('lists every message with its state, trigger and its last 7 days as the stats count them', async () => {
      const stats = (await call('GET', '/v1/stats/messages?from=now-7d&to=now')).body['messages'] as {
        sent: number;
        suppressed: Record<string, number>;
      }[];
      const tip = row('upload-tip');
      await expect.poll(() => tip.locator('.state-chip').textContent()).toBe('live');
      expect(await tip.locator('td[data-column="sent"]').textContent()).toBe(String(stats[0]?.sent));
      expect((await tip.locator('.chip.suppressed').allInnerTexts()).sort()).toEqual(
        Object.entries(stats[0]?.suppressed ?? {})
          .map(([reason, n]) => `${reason} ${n}`)
          .sort(),
      );
      expect(await tip.textContent()).toContain('upload-completed');
      expect(await tip.getByRole('button', { name: 'Pause' }).isVisible()).toBe(true);
      await page.locator('body').screenshot({ path: shot('1-list') });
    });

    it('composes the seed: its problems on the field they name as the person types, the {…} menu, a live preview', async () => {
      await page.getByRole('button', { name: 'New message' }).click();
      const form = composer();
      await form.getByLabel('Message id').fill('upload-ready');
      await form.getByLabel('Trigger event').pressSequentially('upload-completed');
      await expect.poll(() => page.locator('#event-facts').textContent()).toMatch(/^24 entries, last seen/);
      await form.getByLabel('Channel').selectOption('email');
      await form.getByRole('button', { name: 'Add where rule' }).click();
      await form.getByLabel('Where rule 1 field', { exact: true }).selectOption('metadata.duration_s');
      await form.getByLabel('Where rule 1 operator').selectOption('gt');
      await form.getByLabel('Where rule 1 value').fill('120');
      // A duration as people write it wrongly: the API's problem, on that field, while typing.
      await form.getByLabel('Minimum interval').fill('1 hour');
      const interval = form.getByLabel('Minimum interval');
      await expect.poll(() => interval.getAttribute('aria-invalid')).toBe('true');
      expect(await page.locator('#e-min-interval').textContent()).toMatch(/^invalid duration "1 hour"/);
      await form.getByLabel('Subject').fill('Upload done');
      await form.getByLabel('Body').fill('{{ metadata.file_name }} is ready, ');
      await expect
        .poll(() => page.locator('.rendered-body').textContent())
        .toMatch(/^clip-\d+\.mp4 is ready, $/);
      await fullPage('2-problem');
      await interval.fill('1h');
      await expect.poll(() => interval.getAttribute('aria-invalid')).toBe(null);
      expect(await page.locator('#frequency-words').textContent()).toBe(
        'At most once per 1h, until the message is stopped.',
      );
      // The user's first name, from the {…} menu, with a fallback typed where the caret is left.
      await form.getByRole('button', { name: 'Insert a placeholder' }).click();
      // The attributes the users were identified with, from their catalog: the menu's and the audience's.
      const plan = page.getByRole('menuitem', { name: /user\.plan/ });
      expect(await plan.locator('.note').textContent()).toBe('string · 6 users');
      expect(await page.locator('#user-attributes option[value="user.plan"]').getAttribute('label')).toBe(
        'string · 6 users',
      );
      await page.screenshot({
        path: shot('2-menu'),
        fullPage: true,
        clip: await around(['#f-body', '[role="menu"]']),
      });
      await page.getByRole('menuitem', { name: /user\.first_name/ }).click();
      await page.keyboard.type('there');
      expect(await form.getByLabel('Body').inputValue()).toBe(BODY);
      // Rendered by the core with one of the last uploads, its user's first name included.
      await expect
        .poll(() => page.locator('.rendered-body').textContent())
        .toMatch(/^clip-\d+\.mp4 is ready, [A-Z][a-z]+$/);
      expect(await page.locator('.rendered-subject').textContent()).toBe('Upload done');
      // Another of the last ten: rendered with its own file name.
      const recent = page.getByLabel('Rendered with a recent event');
      await recent.selectOption({ index: 3 });
      const picked = /file_name=([^,]+)/.exec(
        (await recent.locator('option:checked').textContent()) ?? '',
      )?.[1];
      expect(picked).toMatch(/^clip-\d+\.mp4$/);
      await expect
        .poll(() => page.locator('.rendered-body').textContent())
        .toMatch(new RegExp(`^${picked ?? ''} is ready, `));
      await fullPage('3-composed');
    });

    it('saves the draft and test-sends it to one user', async () => {
      await composer().getByRole('button', { name: 'Save draft' }).click();
      await expect.poll(() => row('upload-ready').locator('.state-chip').textContent()).toBe('draft');
      const stored = (await call('GET', '/v1/messages/upload-ready')).body['message'];
      expect(stored).toMatchObject({
        ...SEED,
        state: 'draft',
        frequency: { min_interval: 3_600_000, max_sends: null },
        version: 1,
      });
      await page.getByLabel('User id for the test send').fill('ada');
      await page.getByRole('button', { name: 'Send test' }).click();
      await expect
        .poll(() => page.locator('#test-send-result').textContent())
        .toMatch(/^Sent to ada by email: “Upload done” clip-\d+\.mp4 is ready, Ada$/);
    });

    it('previews the impact over the recorded 7 days: the sends POST /v1/replays gives for the same draft', async () => {
      await composer().getByRole('button', { name: 'Preview impact' }).click();
      const panel = page.locator('#impact');
      await page.locator('#impact[data-state="done"]').waitFor();
      const [from, to] = [
        Number(await panel.getAttribute('data-from')),
        Number(await panel.getAttribute('data-to')),
      ];
      const started = await call('POST', '/v1/replays', { from, to, messages: [SEED] });
      const { report } = await replayOf(String(started.body['replay_id']));
      const seed = report.messages.find((m) => m.message_id === 'upload-ready');
      const shown = async (name: string) =>
        Number(((await page.locator(`[data-impact="${name}"]`).textContent()) ?? '').replaceAll(',', ''));
      expect(await shown('sent-before')).toBe(seed?.before.sent);
      expect(await shown('sent-after')).toBe(seed?.after.sent);
      expect(await shown('users-affected')).toBe(report.users_affected);
      expect(await shown('flips')).toBe(report.flips.total);
      // Each user's first long upload is sent; the second is held back by the interval.
      expect([seed?.before.sent, seed?.after.sent, seed?.after.suppressed]).toEqual([
        0,
        USERS.length,
        { min_interval: USERS.length },
      ]);
      // Every message's sends before and after (the tip loses the cap's slot the new message takes).
      expect(
        (await page.locator('#impact-messages tbody tr').allInnerTexts()).map((r) =>
          r.split('\t').slice(0, 3),
        ),
      ).toEqual(
        report.messages.map((m) => [
          m.message_id === 'upload-ready' ? 'upload-ready (this draft)' : m.message_id,
          String(m.before.sent),
          String(m.after.sent),
        ]),
      );
      expect(await page.locator('#impact-flips tbody tr').count()).toBe(report.flips.first.length);
      expect(await page.locator('#impact-reasons tbody').textContent()).toContain('suppressed: min_interval');
      await panel.screenshot({ path: shot('4-impact') });
    });

    it('previews the impact over a window the person chooses, and says what is wrong with one that ends first', async () => {
      const chosen = composer().getByLabel('Impact window');
      await chosen.selectOption('custom');
      const [fromField, toField] = [composer().getByLabel('Impact from'), composer().getByLabel('Impact to')];
      await toField.fill(await fromField.inputValue());
      await composer().getByRole('button', { name: 'Preview impact' }).click();
      await page.locator('#impact[data-state="failed"]').waitFor();
      expect(await page.locator('#impact-progress-text').textContent()).toBe(
        'The window must start before it ends.',
      );
      // The same week as the preview above, in the browser's time to the minute: the same sends.
      const before = await page.locator('[data-impact="sent-after"]').textContent();
      const minute = (ms: number) =>
        page.evaluate((t) => {
          const d = new Date(t);
          const pad = (n: number) => String(n).padStart(2, '0');
          return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
        }, ms);
      await fromField.fill(await minute(Date.now() - 8 * 86_400_000));
      await toField.fill(await minute(Date.now() + 120_000));
      await composer().getByRole('button', { name: 'Preview impact' }).click();
      await page.locator('#impact[data-state="done"]').waitFor();
      expect(await page.locator('[data-impact="sent-after"]').textContent()).toBe(before);
      expect(await page.locator('#impact-caption').textContent()).toMatch(
        /^upload-ready over the window chosen .*: the [\d,]+ entries of the \d+ users who had upload-completed/,
      );
      await page.locator('#impact').screenshot({ path: shot('4b-impact-window') });
      await composer()
        .locator('.actions')
        .screenshot({ path: shot('4b-window') });
      await chosen.selectOption('now-7d');
    });

    it('launches it, and an upload then gets its decision', async () => {
      await composer().getByRole('button', { name: 'Launch' }).click();
      await expect.poll(() => row('upload-ready').locator('.state-chip').textContent()).toBe('live');
      expect(await composer().getByRole('button', { name: 'Pause' }).isEnabled()).toBe(true);
      // The matcher decides with the launched version from its next look at the catalog.
      await until(
        () => Promise.resolve(reported.join('\n')),
        (lines) => lines.includes('upload-ready v2'),
        'the matcher to take the launch',
      );
      const events = [
        {
          type: 'identify',
          id: 'alan-profile',
          user_id: 'alan',
          attributes: { first_name: 'Alan', email: 'alan@example.com' },
        },
        {
          type: 'track',
          id: 'alan-upload',
          name: 'upload-completed',
          user_id: 'alan',
          metadata: { file_name: 'talk.mp4', duration_s: 300 },
        },
      ];
      expect((await call('POST', '/v1/events', { events })).status).toBe(202);
      const decisions = await until(
        async () =>
          (await call('GET', '/v1/users/alan/decisions?message=upload-ready')).body['decisions'] as {
            outcome: string;
            message_version: number;
            content: { subject: string; body: string } | null;
          }[],
        (list) => list.length > 0,
        "alan's decision",
      );
      expect(decisions.map((d) => [d.outcome, d.message_version, d.content])).toEqual([
        ['sent', 2, { subject: 'Upload done', body: 'talk.mp4 is ready, Alan' }],
      ]);
      await page.locator('#list-panel').screenshot({ path: shot('5-launched') });
    });

    it("shows the message's versions and the difference between two of them", async () => {
      await row('upload-ready').getByRole('button', { name: 'History' }).click();
      await page.locator('#history:not([hidden])').waitFor();
      expect(await page.locator('#version-list tbody tr').count()).toBe(2);
      const removed = await page.locator('#diff .removed').allInnerTexts();
      const added = await page.locator('#diff .added').allInnerTexts();
      expect(removed.join('\n')).toContain('"state": "draft"');
      expect(added.join('\n')).toContain('"state": "live"');
      expect(added.join('\n')).toMatch(/"live_since": "\d{4}-\d\d-\d\dT/);
      expect(removed.join('\n') + added.join('\n')).not.toContain('"version"');
      await page.locator('#history').screenshot({ path: shot('6-history') });
      expect(problems, problems.join('\n')).toEqual([]);
    });
  },
);
