import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runMatcher } from '../../bin/start-command.ts';
import { loadConfig } from '../../pipeline/config/load-config.ts';
import { apiFixture, NOW, PARTITIONS } from './api-fixture.ts';
import { expectErrorShape, recordOf, send } from './api-helpers.ts';

/**
 * `GET /v1/catalog/attributes` (issue #19) on the real services: users identified through the API,
 * their attribute keys recorded by `nudge start`'s audit writer (the matcher run here), then read
 * back as the composer reads them.
 */
let f: Awaited<ReturnType<typeof apiFixture>>;
const stop = new AbortController();
let matcher: Promise<void>;

beforeAll(async () => {
  f = await apiFixture();
  const config = { ...loadConfig(process.env), namespace: f.ns.name, partitions: PARTITIONS };
  matcher = runMatcher(config, stop.signal, () => undefined, f.metrics);
});

afterAll(async () => {
  stop.abort();
  await matcher;
  await f.close();
});

const get = (url: string, key = f.keys.read) => send(f.app, { method: 'GET', url, key });

async function identify(user: string, attributes: Record<string, unknown>): Promise<void> {
  const response = await send(f.app, {
    method: 'POST',
    url: `/v1/users/${user}`,
    key: f.keys.ingest,
    body: { attributes },
  });
  expect(response.statusCode, response.body).toBe(202);
}

type Listed = { key: string; types: string[]; users: number; last_seen: number };

describe('GET /v1/catalog/attributes', { timeout: 90_000 }, () => {
  it('lists the keys users were identified with, the most widespread first, with no value', async () => {
    await identify('ada', { plan: 'pro', email: 'ada@example.com', seats: 3 });
    await identify('bob', { plan: 'free', seats: 'many', coupon: null });
    // The audit writer records within about a second; the route answers what is recorded so far.
    const deadline = Date.now() + 60_000;
    let listed: Listed[] = [];
    while (Date.now() < deadline) {
      const response = await get('/v1/catalog/attributes');
      expect(response.statusCode, response.body).toBe(200);
      listed = recordOf(response)['attributes'] as Listed[];
      if (listed.find((a) => a.key === 'seats')?.types.length === 2) break;
      await new Promise((resolve) => setTimeout(resolve, 300));
    }
    expect(listed).toEqual([
      { key: 'plan', types: ['string'], users: 2, last_seen: NOW },
      { key: 'seats', types: ['number', 'string'], users: 2, last_seen: NOW },
      { key: 'email', types: ['string'], users: 1, last_seen: NOW },
    ]);
    expect(JSON.stringify(listed)).not.toContain('ada@example.com');
    expect(recordOf(await get('/v1/catalog/attributes?limit=1'))['attributes']).toEqual([listed[0]]);
  });

  it('refuses a limit out of range or an unknown parameter', async () => {
    for (const query of ['limit=0', 'limit=1001', 'limit=x', 'sort=key'])
      expectErrorShape(await get(`/v1/catalog/attributes?${query}`), 400);
  });
});
