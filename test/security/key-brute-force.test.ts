import { createHash, randomBytes } from 'node:crypto';
import fc from 'fast-check';
import type { HTTPMethods, LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseApiKey } from '../../api/auth/api-keys.ts';
import { apiFixture } from '../api/api-fixture.ts';
import { expectErrorShape } from '../api/api-helpers.ts';

/**
 * Guessing API keys, on the real Redis: requests without a valid key share their address's
 * budget (`anonymousPerMinute`) whatever kind of wrong key they carry, and get a 429 with
 * `retry-after` beyond it; a wrong key never spends the budget of the key whose id it names; and
 * nothing but the exact key is accepted (no prefix, no near miss, no other key's secret). What
 * rate-limit.test.ts covers (a key's own limit, two guesses) is not repeated.
 */

const ANONYMOUS = 30;
const PER_KEY = 5;

let api: Awaited<ReturnType<typeof apiFixture>>;
beforeAll(async () => {
  api = await apiFixture({ anonymousPerMinute: ANONYMOUS, perKeyPerMinute: PER_KEY });
}, 30_000);
afterAll(async () => {
  await api.close();
}, 30_000);

/** Each test its own address, so that budgets do not leak between tests (the window is a minute). */
let lastAddress = 0;
const freshAddress = () => {
  lastAddress++;
  return `10.${(lastAddress >> 16) & 255}.${(lastAddress >> 8) & 255}.${lastAddress & 255}`;
};

const ROUTES: readonly (readonly [HTTPMethods, string])[] = [
  ['POST', '/v1/events'],
  ['GET', '/v1/stats/summary'],
  ['GET', '/v1/messages'],
  ['POST', '/v1/replays'],
  ['GET', '/v1/users/u1/decisions'],
];

function request(
  authorization: string | undefined,
  from: string,
  route: readonly [HTTPMethods, string] = ['GET', '/v1/messages'],
  headers: Readonly<Record<string, string>> = {},
): Promise<LightMyRequestResponse> {
  return api.app.inject({
    method: route[0],
    url: route[1],
    remoteAddress: from,
    headers: { ...headers, ...(authorization === undefined ? {} : { authorization }) },
  });
}

/** A key of the right form (`nudge_<16 hex>_<43 base64url>`) that no one was given. */
const randomKey = () => `nudge_${randomBytes(8).toString('hex')}_${randomBytes(32).toString('base64url')}`;

function expectLimited(response: LightMyRequestResponse): void {
  const error = expectErrorShape(response, 429);
  expect(error.code).toBe('rate_limited');
  expect(error.message).toMatch(new RegExp(`^rate limit of ${ANONYMOUS} requests a minute reached`));
  const retryAfter = Number(response.headers['retry-after']);
  expect(retryAfter).toBeGreaterThan(0);
  expect(retryAfter).toBeLessThanOrEqual(60);
}

const statuses = (responses: readonly LightMyRequestResponse[]) => {
  const counts: Record<number, number> = {};
  for (const r of responses) counts[r.statusCode] = (counts[r.statusCode] ?? 0) + 1;
  return counts;
};

describe('guessing keys from one address', { timeout: 30_000 }, () => {
  it(`a burst of 150 random well-formed keys at once: exactly ${ANONYMOUS} are looked at (401), the rest 429`, async () => {
    const from = freshAddress();
    // All in flight together: the store counts a turn's requests in one script call, and must
    // still hand out no more than the limit.
    const responses = await Promise.all(
      Array.from({ length: 150 }, (_, i) =>
        request(`Bearer ${randomKey()}`, from, ROUTES[i % ROUTES.length]),
      ),
    );
    expect(statuses(responses)).toEqual({ 401: ANONYMOUS, 429: 150 - ANONYMOUS });
    for (const response of responses)
      if (response.statusCode === 429) expectLimited(response);
      else expect(expectErrorShape(response, 401).code).toBe('unauthorized');
  });

  it('every kind of wrong key spends the same budget: wrong secret, unknown id, revoked, no key, garbage', async () => {
    const from = freshAddress();
    const key = api.keys.admin;
    const parsed = parseApiKey(key);
    if (parsed === undefined) throw new Error('the fixture key is not well formed');
    const wrong = [
      // The id of an existing key, another secret.
      `Bearer nudge_${parsed.id}_${randomBytes(32).toString('base64url')}`,
      // The right key but its last character.
      `Bearer ${key.slice(0, -1)}${key.endsWith('A') ? 'B' : 'A'}`,
      // The secret of one key under the id of another.
      `Bearer nudge_${parsed.id}_${parseApiKey(api.keys.read)?.secret ?? ''}`,
      `Bearer ${api.keys.revoked}`,
      `Bearer ${randomKey()}`,
      undefined,
      'Bearer ',
      `Basic ${key}`,
      'Bearer garbage',
      key,
    ];
    const responses: LightMyRequestResponse[] = [];
    for (let i = 0; i < ANONYMOUS + 20; i++) responses.push(await request(wrong[i % wrong.length], from));
    expect(responses.slice(0, ANONYMOUS).map((r) => r.statusCode)).toEqual(Array(ANONYMOUS).fill(401));
    for (const response of responses.slice(ANONYMOUS)) expectLimited(response);
  });

  it('a spoofed X-Forwarded-For or X-Real-IP does not buy a fresh budget', async () => {
    const from = freshAddress();
    for (let i = 0; i < ANONYMOUS; i++)
      expect((await request(`Bearer ${randomKey()}`, from)).statusCode).toBe(401);
    for (let i = 0; i < 20; i++) {
      const spoofed = `203.0.113.${i}`;
      expectLimited(
        await request(`Bearer ${randomKey()}`, from, ['GET', '/v1/messages'], {
          'x-forwarded-for': spoofed,
          'x-real-ip': spoofed,
          forwarded: `for=${spoofed}`,
        }),
      );
    }
    // Another address has its own budget (so the 429s above are the address's, not everyone's).
    expect((await request(`Bearer ${randomKey()}`, freshAddress())).statusCode).toBe(401);
  });

  it('wrong secrets under a key’s id never spend that key’s budget: its owner gets every request of it', async () => {
    const attacker = freshAddress();
    const parsed = parseApiKey(api.keys.ingest);
    if (parsed === undefined) throw new Error('the fixture key is not well formed');
    for (let i = 0; i < ANONYMOUS + 10; i++)
      await request(
        `Bearer nudge_${parsed.id}_${randomBytes(32).toString('base64url')}`,
        attacker,
        ROUTES[0],
      );
    const owner = freshAddress();
    const post = (n: number) =>
      api.app.inject({
        method: 'POST',
        url: '/v1/events',
        remoteAddress: owner,
        headers: { authorization: `Bearer ${api.keys.ingest}` },
        payload: { type: 'track', id: `owner-${n}`, name: 'upload', user_id: 'u1' },
      });
    for (let n = 0; n < PER_KEY; n++) expect((await post(n)).statusCode).toBe(202);
    // The key's own limit still holds: the next is refused.
    expect((await post(PER_KEY)).statusCode).toBe(429);
  });

  it('a valid key is served from an address that used up its anonymous budget (it has a budget of its own)', async () => {
    const from = freshAddress();
    for (let i = 0; i < ANONYMOUS + 5; i++) await request(`Bearer ${randomKey()}`, from);
    expectLimited(await request(`Bearer ${randomKey()}`, from));
    const response = await request(`Bearer ${api.keys.read}`, from, ['GET', '/v1/messages']);
    expect(response.statusCode, response.body).toBe(200);
  });
});

describe('only the exact key is accepted', { timeout: 60_000 }, () => {
  const key = () => api.keys.admin;
  /** One address a request, so that the anonymous budget is never what answers. */
  const once = (authorization: string) => request(authorization, freshAddress());

  it('the key itself is, before and after the near misses (they do not disturb its cached check)', async () => {
    expect((await once(`Bearer ${key()}`)).statusCode).toBe(200);
  });

  it('no prefix of the key, and no key with something after it', async () => {
    const k = key();
    for (let length = 1; length < k.length; length++) {
      const response = await once(`Bearer ${k.slice(0, length)}`);
      expect(response.statusCode, `prefix of ${length}`).toBe(401);
    }
    for (const extra of ['A', '_', '-', '0', '=', '%00', 'é', `_${k}`, k])
      expect((await once(`Bearer ${k}${extra}`)).statusCode, extra).toBe(401);
  });

  it('no key differing in one character, at any place of its id or its secret', async () => {
    const k = key();
    const start = 'nudge_'.length;
    for (let i = start; i < k.length; i++) {
      const c = k[i] ?? '';
      // A character of the same alphabet, so the key still looks well formed.
      const alphabet =
        i < start + 16
          ? '0123456789abcdef'
          : 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
      const other = alphabet[(alphabet.indexOf(c) + 1) % alphabet.length] ?? 'x';
      const response = await once(`Bearer ${k.slice(0, i)}${other}${k.slice(i + 1)}`);
      expect(response.statusCode, `place ${i}: ${c} → ${other}`).toBe(401);
    }
    // The case of the whole key, or of its id alone (ids are lowercase hex).
    expect((await once(`Bearer ${k.toUpperCase()}`)).statusCode).toBe(401);
    expect(
      (await once(`Bearer nudge_${(parseApiKey(k)?.id ?? '').toUpperCase()}_${parseApiKey(k)?.secret ?? ''}`))
        .statusCode,
    ).toBe(401);
  });

  it('no string other than the key (500 random edits of it) is accepted', async () => {
    const k = key();
    const edit = fc
      .tuple(
        fc.nat({ max: k.length }),
        fc.nat({ max: 4 }),
        // What a header may hold: printable ASCII (a control character is refused before any route).
        fc.string({
          unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)),
          maxLength: 3,
        }),
      )
      .map(([at, cut, insert]) => k.slice(0, at) + insert + k.slice(Math.min(k.length, at + cut)));
    await fc.assert(
      fc.asyncProperty(edit, async (guess) => {
        // Only the key itself, or it padded with whitespace the Bearer syntax allows, may pass.
        if (guess.trim() === k || guess === k) return;
        const response = await once(`Bearer ${guess}`);
        expect(response.statusCode, JSON.stringify(guess)).toBe(401);
      }),
      { numRuns: 500, seed: 0xb1 },
    );
    expect((await once(`Bearer ${k}`)).statusCode).toBe(200);
  });

  it('the store holds a sha256 of each secret and never the secret: there is nothing to compare a guess against but a hash', async () => {
    const names = await api.redis.keys(`${api.ns.name}:*`);
    const values = await Promise.all(
      names.map(async (name) => {
        const type = await api.redis.type(name);
        if (type === 'hash') return JSON.stringify(await api.redis.hgetall(name));
        if (type === 'string') return (await api.redis.get(name)) ?? '';
        return '';
      }),
    );
    // And every message the keys' bucket holds, old values too: the bucket is where keys live.
    const jsm = await api.nc.jetstreamManager();
    const bucket = `KV_${api.ns.keysBucket}`;
    const info = await jsm.streams.info(bucket);
    for (let seq = info.state.first_seq; seq <= info.state.last_seq; seq++) {
      const message = await jsm.streams.getMessage(bucket, { seq }).catch(() => undefined);
      if (message !== undefined) values.push(new TextDecoder().decode(message.data));
    }
    const stored = values.join('\n');
    expect(stored).toContain('"hash"');
    for (const scope of ['ingest', 'read', 'admin', 'revoked'] as const) {
      const parsed = parseApiKey(api.keys[scope]);
      if (parsed === undefined) throw new Error(`the ${scope} key is not well formed`);
      expect(stored.includes(parsed.secret), scope).toBe(false);
      const record = (await api.keyStore.get(parsed.id)) ?? { hash: undefined };
      expect(record.hash).toBe(createHash('sha256').update(parsed.secret).digest('hex'));
    }
  });
});
