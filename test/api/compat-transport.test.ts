import { randomUUID } from 'node:crypto';
import { deflateSync, gzipSync } from 'node:zlib';
import type { InjectOptions } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiFixture } from './api-fixture.ts';
import { expectErrorShape, recordOf } from './api-helpers.ts';

type Fixture = Awaited<ReturnType<typeof apiFixture>>;
let f: Fixture;

beforeAll(async () => {
  f = await apiFixture();
});
afterAll(async () => {
  await f.close();
});

const unique = (prefix: string) => `${prefix}-${randomUUID()}`;
const stored = async (id: string) => (await f.logged()).filter((entry) => entry.id === id);
const basic = () => `Basic ${Buffer.from(`${f.keys.ingest}:`).toString('base64')}`;

function inject(options: {
  url: string;
  body: string | Buffer;
  headers?: Record<string, string>;
  method?: InjectOptions['method'];
}) {
  return f.app.inject({
    method: options.method ?? 'POST',
    url: options.url,
    headers: options.headers ?? {},
    payload: options.body,
  });
}

/** A body of `bytes` spaces and a JSON object: it inflates to `bytes`, from about a thousandth of that. */
const bomb = (bytes: number) => gzipSync(Buffer.from(`${' '.repeat(bytes)}{}`));

describe('compressed bodies on every ingest route', () => {
  it.each([
    ['gzip', gzipSync],
    ['deflate', deflateSync],
  ] as const)('Nudge, Segment and Intercom routes take a %s body', async (encoding, compress) => {
    const [own, segment] = [unique('own'), unique('seg')];
    const zipped = (body: unknown) => compress(Buffer.from(JSON.stringify(body)));
    const answers = await Promise.all([
      inject({
        url: '/v1/events',
        body: zipped({ type: 'track', id: own, name: 'upload-completed', user_id: 'u-zip' }),
        headers: {
          authorization: `Bearer ${f.keys.ingest}`,
          'content-type': 'application/json',
          'content-encoding': encoding,
        },
      }),
      inject({
        url: '/v1/batch',
        body: zipped({ batch: [{ type: 'track', messageId: segment, userId: 'u-zip', event: 'Signed Up' }] }),
        headers: { authorization: basic(), 'content-type': 'application/json', 'content-encoding': encoding },
      }),
      inject({
        url: '/events',
        body: zipped({ event_name: 'invited', created_at: 1_700_000_000, user_id: `u-zip-${encoding}` }),
        headers: {
          authorization: `Bearer ${f.keys.ingest}`,
          'content-type': 'application/json',
          'content-encoding': encoding,
        },
      }),
    ]);
    expect(answers.map((a) => a.statusCode)).toEqual([202, 200, 202]);
    expect(await stored(own)).toHaveLength(1);
    expect(await stored(segment)).toHaveLength(1);
    expect((await f.logged()).some((e) => e.user_id === `u-zip-${encoding}`)).toBe(true);
  });

  it('answers 413 for a 1 KiB gzip body that inflates past the route limit, and never stores it', async () => {
    const body = bomb(1_000_000);
    expect(body.length).toBeLessThanOrEqual(1024);
    const response = await inject({
      url: '/v1/batch',
      body,
      headers: { authorization: basic(), 'content-type': 'application/json', 'content-encoding': 'gzip' },
    });
    expect(expectErrorShape(response, 413).code).toBe('body_too_large');
  });

  it("answers 413 on Nudge's own route for a body inflating past its 5 MiB", async () => {
    const response = await inject({
      url: '/v1/events',
      body: bomb(6 * 1024 * 1024),
      headers: {
        authorization: `Bearer ${f.keys.ingest}`,
        'content-type': 'application/json',
        'content-encoding': 'gzip',
      },
    });
    expect(expectErrorShape(response, 413).message).toMatch(/over 5242880 bytes/);
  });

  it('answers 400 for a body that is not what its encoding says, and 415 for an encoding it does not read', async () => {
    const headers = { authorization: `Bearer ${f.keys.ingest}`, 'content-type': 'application/json' };
    const broken = await inject({
      url: '/v1/events',
      body: Buffer.from('not gzip at all'),
      headers: { ...headers, 'content-encoding': 'gzip' },
    });
    expect(expectErrorShape(broken, 400).message).toBe(
      'the body is not valid gzip: it could not be inflated',
    );
    const brotli = await inject({
      url: '/v1/events',
      body: Buffer.from('{}'),
      headers: { ...headers, 'content-encoding': 'br' },
    });
    expect(expectErrorShape(brotli, 415).message).toMatch(/content-encoding "br" is not read here/);
  });
});

describe('Segment routes read JSON whatever the content type, and the key where the clients put it', () => {
  it.each(['text/plain', 'application/x-www-form-urlencoded', 'text/plain;charset=UTF-8', undefined])(
    'takes a JSON body sent as %s',
    async (contentType) => {
      const id = unique('loose');
      const response = await inject({
        url: '/v1/track',
        body: JSON.stringify({ messageId: id, userId: 'u-loose', event: 'Signed Up' }),
        headers: {
          authorization: basic(),
          ...(contentType === undefined ? {} : { 'content-type': contentType }),
        },
      });
      expect(response.statusCode, response.body).toBe(200);
      expect(await stored(id)).toHaveLength(1);
    },
  );

  it('takes the write key from the body, as analytics.js sends it, and refuses a wrong or missing one', async () => {
    const id = unique('body-key');
    const call = { type: 'track', messageId: id, userId: 'u-body', event: 'Signed Up' };
    const taken = await inject({
      url: '/v1/t',
      body: JSON.stringify({ ...call, writeKey: f.keys.ingest }),
      headers: { 'content-type': 'text/plain' },
    });
    expect(taken.statusCode, taken.body).toBe(200);
    expect(await stored(id)).toHaveLength(1);
    const wrong = await inject({
      url: '/v1/t',
      body: JSON.stringify({ ...call, messageId: unique('x'), writeKey: 'nudge_0000000000000000_nope' }),
      headers: { 'content-type': 'text/plain' },
    });
    expectErrorShape(wrong, 401);
    const none = await inject({
      url: '/v1/t',
      body: JSON.stringify(call),
      headers: { 'content-type': 'text/plain' },
    });
    expect(expectErrorShape(none, 401).message).toMatch(/"writeKey" in the body/);
    const scoped = await inject({
      url: '/v1/t',
      body: JSON.stringify({ ...call, writeKey: f.keys.read }),
      headers: { 'content-type': 'text/plain' },
    });
    expectErrorShape(scoped, 403);
  });

  it("keeps Nudge's own routes strict: JSON as text/plain is a 415 naming the type to send", async () => {
    const response = await inject({
      url: '/v1/events',
      body: JSON.stringify({ type: 'track', name: 'x', user_id: 'u' }),
      headers: { authorization: `Bearer ${f.keys.ingest}`, 'content-type': 'text/plain' },
    });
    expect(expectErrorShape(response, 415).message).toMatch(/content-type: application\/json/);
  });

  it('answers browsers of any origin (CORS), preflight included', async () => {
    const preflight = await inject({
      method: 'OPTIONS',
      url: '/v1/t',
      body: '',
      headers: {
        origin: 'https://app.test',
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'content-type',
      },
    });
    expect(preflight.statusCode).toBe(204);
    expect(preflight.headers['access-control-allow-origin']).toBe('*');
    const posted = await inject({
      url: '/v1/t',
      body: JSON.stringify({
        type: 'track',
        messageId: unique('cors'),
        userId: 'u',
        event: 'e',
        writeKey: f.keys.ingest,
      }),
      headers: { origin: 'https://app.test', 'content-type': 'text/plain' },
    });
    expect(posted.headers['access-control-allow-origin']).toBe('*');
  });
});

describe('page, screen, group and alias calls; arrays', () => {
  const post = (url: string, body: unknown) =>
    inject({
      url,
      body: JSON.stringify(body),
      headers: { authorization: basic(), 'content-type': 'application/json' },
    });

  it('stores a page view as a track entry with the page as context', async () => {
    const id = unique('page');
    const response = await post('/v1/p', {
      type: 'page',
      messageId: id,
      userId: 'u-page',
      category: 'Docs',
      name: 'Pricing',
      properties: { url: 'https://app.test/pricing', path: '/pricing', title: 'Pricing' },
    });
    expect(response.statusCode, response.body).toBe(200);
    expect(await stored(id)).toEqual([
      expect.objectContaining({
        type: 'track',
        name: 'Viewed Docs Pricing Page',
        context: { url: 'https://app.test/pricing', path: '/pricing', title: 'Pricing' },
      }),
    ]);
  });

  it('stores a group call as attributes under group., and refuses an alias call alone in a batch', async () => {
    const [group, alias] = [unique('group'), unique('alias')];
    const response = await post('/v1/batch', {
      batch: [
        { type: 'group', messageId: group, userId: 'u-group', groupId: 'acme', traits: { plan: 'team' } },
        { type: 'alias', messageId: alias, userId: 'u-group', previousId: 'anon-1' },
      ],
    });
    expect(response.statusCode, response.body).toBe(200);
    expect(recordOf(response)).toMatchObject({
      accepted: 1,
      rejected: 1,
      results: [
        { index: 0, status: 'accepted' },
        { index: 1, status: 'rejected', error: { code: 'unmapped_call' } },
      ],
    });
    expect(await stored(group)).toEqual([
      expect.objectContaining({ type: 'identify', attributes: { 'group.plan': 'team', 'group.id': 'acme' } }),
    ]);
    expect(await stored(alias)).toEqual([]);
    const alone = await post('/v1/alias', { userId: 'u-group', previousId: 'anon-1' });
    expect(expectErrorShape(alone, 400).message).toBe('no call of the request could be taken');
  });

  it("stores an order's products as their places, and warns of the keys past the limit", async () => {
    const id = unique('order');
    const products = Array.from({ length: 30 }, (_, i) => ({
      product_id: `p${i}`,
      price: i,
      quantity: 1,
      sku: `s${i}`,
    }));
    const response = await post('/v1/track', {
      messageId: id,
      userId: 'u-order',
      event: 'Order Completed',
      properties: { order_id: 'o1', total: 435, products },
    });
    expect(response.statusCode, response.body).toBe(200);
    const [result] = recordOf(response)['results'] as { warnings?: string[] }[];
    expect(result?.warnings?.[0]).toMatch(/^properties: 22 keys past the first 100 were left out/);
    const [entry] = await stored(id);
    expect(entry?.type === 'track' ? entry.metadata?.['products.0.price'] : undefined).toBe(0);
  });

  it("answers analytics.js's own metrics, and keeps nothing of them", async () => {
    const before = (await f.logged()).length;
    const response = await inject({
      url: '/v1/m',
      body: JSON.stringify({ series: [{ type: 'Counter', metric: 'analytics_js.invoke', value: 1 }] }),
      headers: { 'content-type': 'text/plain' },
    });
    expect(response.statusCode).toBe(200);
    expect((await f.logged()).length).toBe(before);
  });
});
