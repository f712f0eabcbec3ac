import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { UnsubscribeTarget } from '../../api/auth/unsubscribe-token.ts';
import { newUnsubscribeSecret, signUnsubscribeToken } from '../../api/auth/unsubscribe-token.ts';
import type { LogEntry } from '../../pipeline/core/log-entry.ts';
import { apiFixture } from './api-fixture.ts';
import { expectErrorShape, send } from './api-helpers.ts';

/**
 * The unsubscribe link's routes (issue #17), through `inject` on the real NATS and Redis: no key,
 * the signed token the only credential, any body a mailbox provider may send, a page for people,
 * and a forged token refused without an entry.
 */
let f: Awaited<ReturnType<typeof apiFixture>>;
let secret: string;
const token = (target: Partial<UnsubscribeTarget> = {}) =>
  signUnsubscribeToken(secret, { user_id: 'ada', message_id: 'weekly-tip', channel: 'email', ...target });
const FORM = { 'content-type': 'application/x-www-form-urlencoded' };
const BROWSER = { accept: 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8' };

beforeAll(async () => {
  f = await apiFixture();
  // Made here first, as the email sender makes it when it runs before any API.
  secret = await f.keyStore.ensureUnsubscribeSecret(newUnsubscribeSecret());
  const created = await send(f.app, {
    url: '/v1/messages',
    key: f.keys.admin,
    body: {
      id: 'weekly-tip',
      name: 'Weekly <tip> & tricks',
      channel: 'email',
      state: 'draft',
      trigger: { event: 'tip-due' },
      template: { subject: 'Your tip', body: 'Hi' },
    },
  });
  expect(created.statusCode, created.body).toBe(201);
}, 60_000);

afterAll(async () => {
  await f.close();
});

/** A POST as a mailbox provider or a browser sends it: the body as it is, with only the headers given. */
const post = (app: typeof f.app, url: string, headers: Readonly<Record<string, string>>, body?: string) =>
  app.inject({ method: 'POST', url, headers, ...(body === undefined ? {} : { payload: body }) });

const preferences = async (user: string) =>
  (await f.logged()).filter(
    (entry): entry is Extract<LogEntry, { type: 'preferences' }> =>
      entry.type === 'preferences' && entry.user_id === user,
  );

describe('GET /v1/unsubscribe/:token', () => {
  it('shows a page naming the message, with both choices as form POSTs, and changes nothing', async () => {
    const response = await send(f.app, {
      method: 'GET',
      url: `/v1/unsubscribe/${token({ user_id: 'gina' })}`,
    });
    expect(response.statusCode, response.body).toBe(200);
    expect(response.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(response.headers['cache-control']).toBe('no-store');
    expect(response.headers['referrer-policy']).toBe('no-referrer');
    expect(response.headers['content-security-policy']).toMatch(
      /^default-src 'none'; style-src 'sha256-[A-Za-z0-9+/=]+'; form-action 'self'; frame-ancestors 'none'/,
    );
    // The name as its author wrote it, escaped.
    expect(response.body).toContain('<strong>Weekly &lt;tip&gt; &amp; tricks</strong>');
    expect(response.body).toContain('<form method="post">');
    expect(response.body).toContain(
      '<button type="submit" name="scope" value="message" class="primary">Unsubscribe</button>',
    );
    expect(response.body).toContain(
      '<button type="submit" name="scope" value="channel" class="secondary" aria-describedby="essential">Unsubscribe from all email</button>',
    );
    expect(response.body).not.toContain('<script');
    expect(await preferences('gina')).toEqual([]);
  });

  it('names a message the catalog does not have by its id', async () => {
    const response = await send(f.app, {
      method: 'GET',
      url: `/v1/unsubscribe/${token({ message_id: 'gone-message' })}`,
    });
    expect(response.body).toContain('<strong>gone-message</strong>');
  });
});

describe('POST /v1/unsubscribe/:token', () => {
  it("RFC 8058's one-click POST, with no key: 200 in plain text, and the opt-out of this message on the log", async () => {
    const response = await post(f.app, `/v1/unsubscribe/${token()}`, FORM, 'List-Unsubscribe=One-Click');
    expect(response.statusCode, response.body).toBe(200);
    expect(response.headers['content-type']).toBe('text/plain; charset=utf-8');
    expect(response.body).toBe('You are unsubscribed from "Weekly <tip> & tricks" emails.\n');
    const [entry, ...more] = await preferences('ada');
    expect(more).toEqual([]);
    expect(entry).toMatchObject({
      type: 'preferences',
      user_id: 'ada',
      channels: {},
      messages: { 'weekly-tip': false },
      received_at: 1_793_610_000_000,
    });
    expect(entry?.id).toMatch(/^[0-9a-f-]{36}$/);
  });

  it.each([
    [
      'multipart/form-data',
      { 'content-type': 'multipart/form-data; boundary=b' },
      '--b\r\nContent-Disposition: form-data; name="List-Unsubscribe"\r\n\r\nOne-Click\r\n--b--\r\n',
    ],
    ['no body at all', {}, undefined],
    ['an empty form', FORM, ''],
    ['JSON', { 'content-type': 'application/json' }, '{"List-Unsubscribe":"One-Click"}'],
    ['text that is not JSON', { 'content-type': 'application/json' }, 'List-Unsubscribe=One-Click'],
    ['a body with no content type', {}, 'List-Unsubscribe=One-Click'],
  ] as const)('accepts %s as one click on this message', async (what, headers, body) => {
    const user = `any-body-${what.replaceAll(' ', '-')}`;
    const response = await post(f.app, `/v1/unsubscribe/${token({ user_id: user })}`, headers, body);
    expect(response.statusCode, response.body).toBe(200);
    expect((await preferences(user)).map((e) => [e.channels, e.messages])).toEqual([
      [{}, { 'weekly-tip': false }],
    ]);
  });

  it("the page's second button (scope=channel) opts out of all email; a browser gets a page", async () => {
    const response = await post(
      f.app,
      `/v1/unsubscribe/${token({ user_id: 'bea' })}`,
      { ...FORM, ...BROWSER },
      'scope=channel',
    );
    expect(response.statusCode, response.body).toBe(200);
    expect(response.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(response.body).toContain('<h1>You are unsubscribed</h1>');
    expect(response.body).toContain('You won’t get any more emails from us.');
    expect((await preferences('bea')).map((e) => [e.channels, e.messages])).toEqual([[{ email: false }, {}]]);
  });

  it('its first button (scope=message) opts out of this message, and the page offers all email next', async () => {
    const response = await post(
      f.app,
      `/v1/unsubscribe/${token({ user_id: 'cyd' })}`,
      { ...FORM, ...BROWSER },
      'scope=message',
    );
    expect(response.body).toContain(
      'You won’t get <strong>Weekly &lt;tip&gt; &amp; tricks</strong> emails any more.',
    );
    expect(response.body).toContain('value="channel"');
    expect((await preferences('cyd')).map((e) => e.messages)).toEqual([{ 'weekly-tip': false }]);
  });

  it('a body over 4 KiB is refused (413), with nothing logged', async () => {
    const response = await post(
      f.app,
      `/v1/unsubscribe/${token({ user_id: 'big' })}`,
      FORM,
      `scope=channel&x=${'a'.repeat(5_000)}`,
    );
    expect(expectErrorShape(response, 413).code).toBe('body_too_large');
    expect(await preferences('big')).toEqual([]);
  });
});

describe('a token that is not ours', () => {
  const good = () => token({ user_id: 'eve-victim' });
  const forged = () => {
    const [, signature] = good().split('.');
    const payload = Buffer.from(
      JSON.stringify({ user_id: 'mallory', message_id: 'weekly-tip', channel: 'email' }),
    );
    return [
      `${payload.toString('base64url')}.${signature ?? ''}`,
      `${good().slice(0, -2)}xx`,
      signUnsubscribeToken('another-secret', {
        user_id: 'eve-victim',
        message_id: 'weekly-tip',
        channel: 'email',
      }),
      'not-a-token',
      good().split('.')[0] ?? '',
    ];
  };

  it('POST: 400 invalid_unsubscribe_token as JSON, or a page for a browser, and no entry', async () => {
    for (const bad of forged()) {
      const response = await post(f.app, `/v1/unsubscribe/${bad}`, FORM, 'List-Unsubscribe=One-Click');
      expect(expectErrorShape(response, 400).code).toBe('invalid_unsubscribe_token');
      const page = await post(f.app, `/v1/unsubscribe/${bad}`, { ...FORM, ...BROWSER }, 'scope=channel');
      expect(page.statusCode).toBe(400);
      expect(page.body).toContain('This unsubscribe link doesn’t work');
    }
    expect(await preferences('eve-victim')).toEqual([]);
    expect(await preferences('mallory')).toEqual([]);
  });

  it('GET: the same page (400), or JSON for a client that asks for JSON', async () => {
    const [bad = ''] = forged();
    const page = await send(f.app, { method: 'GET', url: `/v1/unsubscribe/${bad}` });
    expect(page.statusCode).toBe(400);
    expect(page.headers['content-type']).toBe('text/html; charset=utf-8');
    const json = await send(f.app, {
      method: 'GET',
      url: `/v1/unsubscribe/${bad}`,
      headers: { accept: 'application/json' },
    });
    expect(expectErrorShape(json, 400).code).toBe('invalid_unsubscribe_token');
  });
});

describe('when the log does not store the opt-out', () => {
  it('answers 503 (JSON, or a page that offers the same choice again), so the click can be sent again', async () => {
    const broken = await apiFixture({ withoutLog: true });
    try {
      const own = await broken.keyStore.ensureUnsubscribeSecret(newUnsubscribeSecret());
      const url = `/v1/unsubscribe/${signUnsubscribeToken(own, { user_id: 'ada', message_id: 'weekly-tip', channel: 'email' })}`;
      const json = await post(broken.app, url, FORM, 'List-Unsubscribe=One-Click');
      expect(expectErrorShape(json, 503).code).toBe('log_unavailable');
      const page = await post(broken.app, url, { ...FORM, ...BROWSER }, 'scope=channel');
      expect(page.statusCode).toBe(503);
      expect(page.body).toContain('<h1>Please try again</h1>');
      expect(page.body).toContain('value="channel" class="primary">Try again</button>');
    } finally {
      await broken.close();
    }
  });
});

describe('the rate limit', () => {
  it('counts a valid link apart from its address (a mailbox provider POSTs for all its users), a forged one by address', async () => {
    const limited = await apiFixture({ anonymousPerMinute: 2 });
    try {
      const own = await limited.keyStore.ensureUnsubscribeSecret(newUnsubscribeSecret());
      const link = (user: string) =>
        `/v1/unsubscribe/${signUnsubscribeToken(own, { user_id: user, message_id: 'weekly-tip', channel: 'email' })}`;
      const click = (url: string) => post(limited.app, url, FORM, 'List-Unsubscribe=One-Click');
      const statuses = [];
      // Six requests from one address, two a link: none refused.
      for (const user of ['u1', 'u2', 'u3'])
        for (let i = 0; i < 2; i++) statuses.push((await click(link(user))).statusCode);
      expect(statuses).toEqual([200, 200, 200, 200, 200, 200]);
      // A third on one link is over its own limit.
      expect(expectErrorShape(await click(link('u1')), 429).code).toBe('rate_limited');
      // Forged tokens from the address: limited as the address.
      const forged = [];
      for (let i = 0; i < 3; i++) forged.push((await click(`/v1/unsubscribe/forged-${i}`)).statusCode);
      expect(forged).toEqual([400, 400, 429]);
    } finally {
      await limited.close();
    }
  });
});
