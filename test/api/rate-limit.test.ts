import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiFixture } from './api-fixture.ts';

let api: Awaited<ReturnType<typeof apiFixture>>;
beforeAll(async () => {
  api = await apiFixture({ perKeyPerMinute: 3, anonymousPerMinute: 2 });
});
afterAll(async () => {
  await api.close();
});

const post = (key: string, id: string) =>
  api.app.inject({
    method: 'POST',
    url: '/v1/events',
    headers: { authorization: `Bearer ${key}` },
    payload: { type: 'track', id, name: 'upload_completed', user_id: 'u1' },
  });

describe('rate limits (in Redis, per key; per address without a valid key)', () => {
  it('answers 429 with retry-after and the error shape once a key used its minute', async () => {
    for (const id of ['r1', 'r2', 'r3']) expect((await post(api.keys.ingest, id)).statusCode).toBe(202);
    const limited = await post(api.keys.ingest, 'r4');
    expect(limited.statusCode).toBe(429);
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    expect(JSON.parse(limited.body)).toEqual({
      error: {
        code: 'rate_limited',
        message: expect.stringMatching(/^rate limit of 3 requests a minute reached/) as string,
      },
    });
    // Another key has its own minute.
    expect((await post(api.keys.admin, 'r5')).statusCode).toBe(202);
  });

  it('slows down guessing: requests without a valid key share their address’s small budget', async () => {
    const guess = (n: number) => post(`nudge_${'0'.repeat(16)}_${String(n).padStart(43, 'x')}`, `g${n}`);
    expect((await guess(1)).statusCode).toBe(401);
    expect((await guess(2)).statusCode).toBe(401);
    expect((await guess(3)).statusCode).toBe(429);
    expect((await api.app.inject({ method: 'POST', url: '/v1/events' })).statusCode).toBe(429);
  });

  it('never limits the probes or the documentation', async () => {
    for (let i = 0; i < 5; i++) {
      expect((await api.app.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
      expect((await api.app.inject({ method: 'GET', url: '/openapi.json' })).statusCode).toBe(200);
    }
  });
});
