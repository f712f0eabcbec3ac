import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LogEntry } from '../../pipeline/core/log-entry.ts';
import { apiFixture, NOW } from './api-fixture.ts';
import type { ResponseLike } from './api-helpers.ts';
import { bodyOf, expectErrorShape, isRecord, recordOf, send } from './api-helpers.ts';

type Fixture = Awaited<ReturnType<typeof apiFixture>>;
let f: Fixture;

beforeAll(async () => {
  f = await apiFixture();
});
afterAll(async () => {
  await f.close();
});

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const unique = (prefix: string) => `${prefix}-${randomUUID()}`;
const track = (fields: Record<string, unknown> = {}) => ({
  type: 'track',
  name: 'signup',
  user_id: 'u-routes',
  ...fields,
});
const post = (body: unknown, url = '/v1/events') => send(f.app, { url, key: f.keys.ingest, body });

/** The log is shared by the tests of this file: each looks only at its own entries, by id or user. */
const storedWithId = async (id: string) => (await f.logged()).filter((entry) => entry.id === id);
const storedFor = async (userId: string) => (await f.logged()).filter((entry) => entry.user_id === userId);

function metadataOf(entry: LogEntry | undefined): Record<string, unknown> {
  if (entry?.type !== 'track' || entry.metadata === undefined) throw new Error('not a track with metadata');
  return entry.metadata;
}

/** The `warnings` of a 202, [] when the answer has none. */
function warningsOf(response: ResponseLike): unknown {
  return recordOf(response)['warnings'] ?? [];
}

describe('POST /v1/events: one entry', () => {
  it('answers 202 once the entry is in the log, stamped with the ingestion clock', async () => {
    const id = unique('track');
    const entry = track({
      id,
      created_at: 1_700_000_000_000,
      metadata: { plan: 'pro', seats: 3, trial: true, coupon: null },
      context: { url: 'https://example.com/pricing' },
    });
    const response = await post(entry);
    expect(response.statusCode, response.body).toBe(202);
    expect(bodyOf(response)).toEqual({ id, status: 'accepted', received_at: NOW });
    expect(await storedWithId(id)).toEqual([{ ...entry, received_at: NOW }]);
  });

  it('answers "duplicate" for an id already in the log, and the log keeps the first entry only', async () => {
    const id = unique('dup');
    await post(track({ id, name: 'first' }));
    const again = await post(track({ id, name: 'second' }));
    expect(again.statusCode).toBe(202);
    expect(bodyOf(again)).toEqual({ id, status: 'duplicate', received_at: NOW });
    const stored = await storedWithId(id);
    expect(stored).toHaveLength(1);
    expect(stored[0]).toMatchObject({ name: 'first' });
  });

  it('generates an id for an entry without one, answers it and stores the entry under it', async () => {
    const user = unique('u-noid');
    const first = recordOf(await post(track({ user_id: user })));
    const second = recordOf(await post(track({ user_id: user })));
    expect(first['id']).toMatch(UUID);
    expect(second['id']).toMatch(UUID);
    // Two entries without ids are two entries, not a duplicate of one another.
    expect(second['status']).toBe('accepted');
    const stored = await storedFor(user);
    expect(stored.map((entry) => entry.id).sort()).toEqual([first['id'], second['id']].sort());
  });

  it('stores an identify entry', async () => {
    const id = unique('identify');
    const entry = { type: 'identify', id, user_id: 'u-identify', attributes: { plan: 'pro', churned: null } };
    const response = await post(entry);
    expect(response.statusCode, response.body).toBe(202);
    expect(await storedWithId(id)).toEqual([{ ...entry, received_at: NOW }]);
  });
});

describe('POST /v1/users/:id', () => {
  it("stores the attributes as an identify entry of the path's user", async () => {
    // Spaces, a slash and unicode travel URL-encoded and are stored decoded.
    const user = `user é/${randomUUID()}`;
    const response = await post(
      { attributes: { plan: 'pro', age: 41, vip: false } },
      `/v1/users/${encodeURIComponent(user)}`,
    );
    expect(response.statusCode, response.body).toBe(202);
    const answer = recordOf(response);
    expect(answer).toEqual({
      id: expect.stringMatching(UUID) as string,
      status: 'accepted',
      received_at: NOW,
    });
    expect(await storedFor(user)).toEqual([
      {
        type: 'identify',
        id: answer['id'],
        user_id: user,
        attributes: { plan: 'pro', age: 41, vip: false },
        received_at: NOW,
      },
    ]);
  });

  it('takes the idempotency id from the body', async () => {
    const id = unique('attrs');
    const first = await post({ id, attributes: { a: 1 } }, '/v1/users/u-attrs');
    const again = await post({ id, attributes: { a: 2 } }, '/v1/users/u-attrs');
    expect(bodyOf(first)).toMatchObject({ id, status: 'accepted' });
    expect(bodyOf(again)).toMatchObject({ id, status: 'duplicate' });
    expect(await storedWithId(id)).toHaveLength(1);
  });

  it.each([
    ['type', { type: 'track', attributes: {} }],
    ['user_id', { user_id: 'someone-else', attributes: {} }],
    ['received_at', { received_at: 1, attributes: {} }],
  ])('refuses "%s" in the body: the path and ingestion set it', async (key, body) => {
    const error = expectErrorShape(await post(body, '/v1/users/u-attrs-refused'), 400);
    expect(error.message).toContain(`unknown key "${key}"`);
    expect(await storedFor('u-attrs-refused')).toEqual([]);
  });

  it('refuses a body without attributes', async () => {
    const error = expectErrorShape(await post({}, '/v1/users/u-no-attrs'), 400);
    expect(error.message).toBe('attributes: required');
  });
});

describe('POST /v1/events: a batch', () => {
  it('answers a result per entry, in order: accepted, rejected naming the key path, duplicate', async () => {
    const user = unique('u-batch');
    const a = unique('a');
    const b = unique('b');
    const response = await post({
      events: [
        track({ id: a, user_id: user }),
        track({ user_id: user, metadata: { size: { w: 1 } } }),
        track({ id: a, user_id: user, name: 'again' }),
        { type: 'identify', id: b, user_id: user, attributes: { plan: 'pro' } },
        'not an entry',
      ],
    });
    expect(response.statusCode, response.body).toBe(202);
    const answer = recordOf(response);
    expect(answer).toMatchObject({ accepted: 2, duplicates: 1, rejected: 2 });
    expect(answer['results']).toEqual([
      { index: 0, id: a, status: 'accepted', received_at: NOW },
      {
        index: 1,
        status: 'rejected',
        error: {
          code: 'invalid_entry',
          message: expect.stringMatching(/^metadata\.size: nested objects are not allowed/) as string,
          details: [expect.stringMatching(/^metadata\.size: nested objects/)],
        },
      },
      { index: 2, id: a, status: 'duplicate', received_at: NOW },
      { index: 3, id: b, status: 'accepted', received_at: NOW },
      {
        index: 4,
        status: 'rejected',
        error: {
          code: 'invalid_entry',
          message: '(root): an entry is a JSON object',
          details: expect.any(Array) as unknown[],
        },
      },
    ]);
    const stored = await storedFor(user);
    expect(stored.map((entry) => entry.id).sort()).toEqual([a, b].sort());
    // The first of two entries with one id is the one kept.
    expect(stored.find((entry) => entry.id === a)).toMatchObject({ name: 'signup' });
  });

  it('answers "duplicate" for every entry of a batch sent again', async () => {
    const user = unique('u-resend');
    const batch = {
      events: [track({ id: unique('r1'), user_id: user }), track({ id: unique('r2'), user_id: user })],
    };
    expect(bodyOf(await post(batch))).toMatchObject({ accepted: 2, duplicates: 0 });
    expect(bodyOf(await post(batch))).toMatchObject({ accepted: 0, duplicates: 2, rejected: 0 });
    expect(await storedFor(user)).toHaveLength(2);
  });

  it('warns per entry about metadata keys past the 20 usable ones', async () => {
    const metadata = Object.fromEntries(Array.from({ length: 22 }, (_, i) => [`key_${i + 1}`, i]));
    const answer = recordOf(await post({ events: [track({ metadata }), track()] }));
    expect(answer['results']).toEqual([
      expect.objectContaining({ index: 0, warnings: [expect.stringContaining('ignored: key_21, key_22')] }),
      expect.not.objectContaining({ warnings: expect.anything() as unknown }),
    ]);
  });

  it('answers 400 with the per-entry results as details when every entry is rejected', async () => {
    const user = unique('u-all-bad');
    const error = expectErrorShape(
      await post({ events: [track({ user_id: user, received_at: 1 }), { type: 'page', user_id: user }] }),
      400,
    );
    expect(error.code).toBe('invalid_request');
    expect(error.details).toEqual([
      {
        index: 0,
        status: 'rejected',
        error: {
          code: 'invalid_entry',
          message: expect.stringContaining('received_at: set by ingestion') as string,
          details: expect.any(Array) as unknown[],
        },
      },
      {
        index: 1,
        status: 'rejected',
        error: {
          code: 'invalid_entry',
          message: 'type: unknown entry type "page": use "track" or "identify"',
          details: expect.any(Array) as unknown[],
        },
      },
    ]);
    expect(await storedFor(user)).toEqual([]);
  });

  it('takes 1000 entries and refuses 1001 whole', async () => {
    const full = unique('u-1000');
    const answer = recordOf(
      await post({ events: Array.from({ length: 1000 }, () => track({ user_id: full })) }),
    );
    expect(answer).toMatchObject({ accepted: 1000, duplicates: 0, rejected: 0 });
    expect(await storedFor(full)).toHaveLength(1000);

    const over = unique('u-1001');
    const error = expectErrorShape(
      await post({ events: Array.from({ length: 1001 }, () => track({ user_id: over })) }),
      400,
    );
    expect(error.message).toBe('events: at most 1000 entries a request');
    expect(await storedFor(over)).toEqual([]);
  });

  it('refuses an empty batch', async () => {
    const error = expectErrorShape(await post({ events: [] }), 400);
    expect(error.message).toBe('events: at least one entry');
  });

  it('refuses a key beside "events"', async () => {
    const error = expectErrorShape(await post({ events: [track()], dry_run: true }), 400);
    expect(error.message).toContain('unknown key "dry_run"');
  });
});

describe('the entry contract (DESIGN §2)', () => {
  it.each([
    ['metadata.size', 'nested objects', track({ metadata: { size: { w: 1 } } })],
    ['metadata.tags', 'arrays', track({ metadata: { tags: ['a', 'b'] } })],
    ['context.page', 'nested objects', track({ context: { page: {} } })],
    [
      'attributes.address',
      'nested objects',
      { type: 'identify', user_id: 'u', attributes: { address: { city: 'x' } } },
    ],
    ['attributes.roles', 'arrays', { type: 'identify', user_id: 'u', attributes: { roles: [] } }],
  ])('refuses a nested value, naming its key: %s', async (path, what, body) => {
    const error = expectErrorShape(await post(body), 400);
    expect(error.code).toBe('invalid_request');
    expect(error.message).toMatch(new RegExp(`^${path.replace('.', '\\.')}: ${what} are not allowed`));
  });

  it('stores 25 metadata keys, in the order sent, and warns that keys 21..25 are ignored', async () => {
    const keys = Array.from({ length: 25 }, (_, i) => `key_${i + 1}`);
    const id = unique('wide');
    const response = await post(track({ id, metadata: Object.fromEntries(keys.map((key, i) => [key, i])) }));
    expect(response.statusCode, response.body).toBe(202);
    expect(warningsOf(response)).toEqual([
      'metadata has 25 keys: only the first 20 are usable in rules and templates; ' +
        'stored but ignored: key_21, key_22, key_23, key_24, key_25',
    ]);
    const [stored] = await storedWithId(id);
    expect(Object.keys(metadataOf(stored))).toEqual(keys);
  });

  it('does not warn at 20 metadata keys', async () => {
    const metadata = Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`key_${i}`, i]));
    const response = await post(track({ metadata }));
    expect(response.statusCode).toBe(202);
    expect(warningsOf(response)).toEqual([]);
  });

  it('refuses received_at, naming it', async () => {
    const id = unique('received');
    const error = expectErrorShape(await post(track({ id, received_at: NOW - 1 })), 400);
    expect(error.message).toBe(
      'received_at: set by ingestion; send created_at for your own time of the event',
    );
    expect(await storedWithId(id)).toEqual([]);
  });

  it('refuses an unknown top-level key, naming it', async () => {
    const error = expectErrorShape(await post(track({ colour: 'red' })), 400);
    expect(error.message).toBe('(root): unknown key "colour"');
    expect(error.details).toEqual(['(root): unknown key "colour"']);
  });

  it.each(['id', 'name', 'user_id'])('takes %s of 256 characters and refuses 257', async (field) => {
    const at = randomUUID().padEnd(256, 'x');
    expect((await post(track({ [field]: at }))).statusCode).toBe(202);
    const error = expectErrorShape(await post(track({ [field]: `${at}y` })), 400);
    expect(error.message).toBe(`${field}: at most 256 characters`);
  });

  it('takes a string value of 4096 characters and refuses 4097', async () => {
    expect((await post(track({ metadata: { note: 'é'.repeat(4096) } }))).statusCode).toBe(202);
    const error = expectErrorShape(await post(track({ context: { note: 'é'.repeat(4097) } })), 400);
    expect(error.message).toBe('context.note: strings are at most 4096 characters');
  });

  it('takes 100 metadata keys and refuses 101', async () => {
    const keys = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, i]));
    expect((await post(track({ metadata: keys(100) }))).statusCode).toBe(202);
    const error = expectErrorShape(await post(track({ metadata: keys(101) })), 400);
    expect(error.message).toBe('metadata: at most 100 keys');
  });

  it('refuses a metadata key over 128 characters, naming metadata', async () => {
    const error = expectErrorShape(await post(track({ metadata: { ['k'.repeat(129)]: 1 } })), 400);
    expect(error.message).toMatch(/^metadata\./);
  });

  it('answers 413 for a body over 5 MiB, before reading it as an entry', async () => {
    const id = unique('huge');
    const error = expectErrorShape(
      await post(track({ id, metadata: { blob: 'x'.repeat(5 * 1024 * 1024) } })),
      413,
    );
    expect(error.code).toBe('body_too_large');
    expect(error.message).toMatch(/over 5242880 bytes/);
    expect(await storedWithId(id)).toEqual([]);
  });

  it('answers 413 for one entry over 256 KiB as JSON (a log message must hold it), and stores nothing', async () => {
    const id = unique('large');
    // 100 strings of 4,096 characters of 3 bytes each: within every field limit, 1.2 MB as JSON.
    const metadata = Object.fromEntries(Array.from({ length: 100 }, (_, i) => [`k${i}`, '€'.repeat(4_096)]));
    const error = expectErrorShape(await post(track({ id, metadata })), 413);
    expect(error.code).toBe('entry_too_large');
    expect(error.message).toMatch(/^the entry is \d+ bytes as JSON: at most 262144$/);
    expect(await storedWithId(id)).toEqual([]);
    // Just under the limit goes through, whole.
    const fits = unique('fits');
    const near = Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`k${i}`, '€'.repeat(4_096)]));
    expect((await post(track({ id: fits, metadata: near }))).statusCode).toBe(202);
    expect(metadataOf((await storedWithId(fits))[0])).toEqual(near);
  });

  it('rejects an entry over 256 KiB inside a batch, naming it, and stores the rest', async () => {
    const [big, small] = [unique('big'), unique('small')];
    const metadata = Object.fromEntries(Array.from({ length: 100 }, (_, i) => [`k${i}`, '€'.repeat(4_096)]));
    const response = await post({ events: [track({ id: big, metadata }), track({ id: small })] });
    expect(response.statusCode).toBe(202);
    expect(bodyOf(response)).toMatchObject({
      accepted: 1,
      rejected: 1,
      results: [
        { index: 0, status: 'rejected', error: { code: 'entry_too_large' } },
        { index: 1, id: small, status: 'accepted' },
      ],
    });
    expect(await storedWithId(big)).toEqual([]);
    expect(await storedWithId(small)).toHaveLength(1);
  });

  it.each([
    ['{"type":"track"', 'at byte 15 (line 1, column 16): the body ends too early'],
    ['{"type":"track",}', `at byte 16 (line 1, column 17): expected a key in double quotes, found "}"`],
    ["{'type':'track'}", 'at byte 1 (line 1, column 2)'],
    ['{"metadata":{"n":NaN}}', 'at byte 17 (line 1, column 18): expected a value'],
    ['Infinity', 'at byte 0 (line 1, column 1)'],
    ['{"é":1,\n"n":}', 'at byte 13 (line 2, column 5): expected a value, found "}"'],
  ])('answers 400 for text that is not JSON, naming where: %s', async (text, where) => {
    const error = expectErrorShape(await post(text), 400);
    expect(error.code).toBe('invalid_json');
    expect(error.message).toContain(`the body is not valid JSON: ${where}`);
  });

  it('answers 400 for an empty body sent as JSON', async () => {
    const error = expectErrorShape(await post(''), 400);
    expect(error).toEqual({
      code: 'invalid_json',
      message: 'the body is empty: send a JSON object (content-type: application/json)',
    });
  });

  it.each([
    [
      '"__proto__" at the top',
      '{"__proto__":{"polluted":true},"type":"track","name":"n","user_id":"u-proto"}',
    ],
    [
      '"__proto__" in metadata',
      '{"type":"track","name":"n","user_id":"u-proto","metadata":{"__proto__":{"a":1}}}',
    ],
    [
      '"__proto__" in a batch entry',
      '{"events":[{"type":"track","name":"n","user_id":"u-proto","__proto__":{}}]}',
    ],
    [
      '"constructor.prototype" at the top',
      '{"constructor":{"prototype":{"a":1}},"type":"track","user_id":"u-proto"}',
    ],
    [
      '"constructor.prototype" in attributes',
      '{"type":"identify","user_id":"u-proto","attributes":{"constructor":{"prototype":{}}}}',
    ],
  ])('refuses %s (prototype poisoning) with 400', async (_, text) => {
    const error = expectErrorShape(await post(text), 400);
    expect(error.code).toBe('invalid_request');
    expect(error.message).toMatch(/"__proto__" key, or a "constructor" key holding "prototype"/);
    expect(await storedFor('u-proto')).toEqual([]);
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
  });

  it('stores a plain "constructor" metadata key as data: only constructor.prototype is poisoning', async () => {
    const id = unique('ctor');
    expect((await post(track({ id, metadata: { constructor: 'x' } }))).statusCode).toBe(202);
    const [stored] = await storedWithId(id);
    expect(Object.entries(metadataOf(stored))).toEqual([['constructor', 'x']]);
  });

  it.each(['application/xml', 'application/x-www-form-urlencoded', 'application/vnd.api+json'])(
    'answers 415 for a body sent as %s',
    async (contentType) => {
      const response = await send(f.app, {
        url: '/v1/events',
        key: f.keys.ingest,
        body: track(),
        headers: { 'content-type': contentType },
      });
      expect(expectErrorShape(response, 415)).toEqual({
        code: 'unsupported_media_type',
        message: `content-type ${JSON.stringify(contentType)} is not read here: send the body as JSON with content-type: application/json`,
      });
    },
  );

  it('never stores a JSON entry sent as text/plain', async () => {
    const id = unique('plain');
    const response = await send(f.app, {
      url: '/v1/events',
      key: f.keys.ingest,
      body: track({ id }),
      headers: { 'content-type': 'text/plain' },
    });
    expect(expectErrorShape(response, 415).code).toBe('unsupported_media_type');
    expect(await storedWithId(id)).toEqual([]);
  });

  it.each([
    ['GET', '/v1/nope', 'no route GET /v1/nope (every route: /docs)'],
    ['POST', '/v1/event', 'no route POST /v1/event: did you mean POST /v1/events? (every route: /docs)'],
  ] as const)('answers 404 with the error shape for %s %s', async (method, url, message) => {
    const error = expectErrorShape(await send(f.app, { method, url, key: f.keys.ingest }), 404);
    expect(error).toEqual({ code: 'not_found', message });
  });

  it.each([
    ['DELETE', '/v1/events', 'POST'],
    ['GET', '/v1/users/u1', 'POST'],
  ] as const)('answers 405 naming the methods for %s %s', async (method, url, allowed) => {
    const response = await send(f.app, { method, url, key: f.keys.ingest });
    expect(expectErrorShape(response, 405)).toEqual({
      code: 'method_not_allowed',
      message: `${method} is not allowed on ${url}: use ${allowed}`,
    });
    expect(response.headers['allow']).toBe(allowed);
  });
});

describe('expectErrorShape', () => {
  const made = (status: number, body: string) => ({
    statusCode: status,
    headers: { 'content-type': 'application/json; charset=utf-8' },
    body,
  });

  it('accepts the one shape, with or without details', () => {
    expect(expectErrorShape(made(400, '{"error":{"code":"c","message":"m"}}'), 400)).toEqual({
      code: 'c',
      message: 'm',
    });
    expect(
      expectErrorShape(made(409, '{"error":{"code":"c","message":"m","details":[1]}}'), 409).details,
    ).toEqual([1]);
  });

  // The helper guards every other test: it must refuse each way an answer can stray from the shape.
  it.each([
    ['another status', made(400, '{"error":{"code":"c","message":"m"}}'), 401],
    [
      "fastify's own shape",
      made(400, '{"error":"Bad Request","code":"FST_ERR_BAD_URL","message":"m","statusCode":400}'),
      400,
    ],
    ['a key beside error', made(400, '{"error":{"code":"c","message":"m"},"statusCode":400}'), 400],
    ['a key inside error', made(400, '{"error":{"code":"c","message":"m","hint":"h"}}'), 400],
    ['no message', made(400, '{"error":{"code":"c"}}'), 400],
    ['a number as code', made(400, '{"error":{"code":400,"message":"m"}}'), 400],
    ['not JSON', made(400, 'Bad Request'), 400],
  ])('refuses %s', (_, response, status) => {
    expect(() => expectErrorShape(response, status)).toThrow();
  });
});

describe('when the log cannot store (no log stream)', () => {
  let broken: Fixture;
  beforeAll(async () => {
    broken = await apiFixture({ withoutLog: true });
  });
  afterAll(async () => {
    await broken.close();
  });

  it.each([
    ['one track entry', '/v1/events', track()],
    ['one identify entry', '/v1/events', { type: 'identify', user_id: 'u', attributes: { a: 1 } }],
    ['attributes', '/v1/users/u-503', { attributes: { a: 1 } }],
    ['a batch', '/v1/events', { events: [track(), track({ user_id: 'other' })] }],
    ['a batch with a rejected entry', '/v1/events', { events: [track(), { type: 'nope' }] }],
  ])('answers 503 log_unavailable for %s, never 202', async (_, url, body) => {
    const response = await send(broken.app, { url, key: broken.keys.ingest, body });
    const error = expectErrorShape(response, 503);
    expect(error.code).toBe('log_unavailable');
    expect(error.message).toContain('retry with the same ids');
  });

  it('still answers /healthz', async () => {
    expect((await send(broken.app, { method: 'GET', url: '/healthz' })).statusCode).toBe(200);
  });
});

describe('OpenAPI document and docs page', () => {
  it('serves an OpenAPI 3 document with the ingest paths and the entry and error schemas', async () => {
    const response = await send(f.app, { method: 'GET', url: '/openapi.json' });
    expect(response.statusCode).toBe(200);
    const doc = recordOf(response);
    expect(doc['openapi']).toMatch(/^3\./);
    const paths = doc['paths'];
    const components = doc['components'];
    if (!isRecord(paths) || !isRecord(components) || !isRecord(components['schemas']))
      throw new Error('no paths or components.schemas');
    expect(paths['/v1/events']).toHaveProperty('post');
    expect(paths['/v1/users/{id}']).toHaveProperty('post');
    expect(Object.keys(components['schemas'])).toEqual(
      expect.arrayContaining(['TrackEntry', 'IdentifyEntry', 'Error']),
    );
  });

  it.each(['/docs', '/docs/'])('serves the Swagger UI page at %s', async (url) => {
    const response = await send(f.app, { method: 'GET', url });
    if (response.statusCode >= 300 && response.statusCode < 400) {
      expect(response.headers.location).toMatch(/^(\.\/|\/docs\/?)/);
      return;
    }
    expect(response.statusCode).toBe(200);
    expect(String(response.headers['content-type'])).toMatch(/^text\/html/);
    expect(response.body).toContain('swagger-ui');
  });
});

describe('health', () => {
  it('answers /healthz without a key', async () => {
    const response = await send(f.app, { method: 'GET', url: '/healthz' });
    expect(response.statusCode).toBe(200);
    expect(bodyOf(response)).toEqual({ status: 'ok' });
  });

  it('answers /readyz with every service ok, without a key', async () => {
    const response = await send(f.app, { method: 'GET', url: '/readyz' });
    expect(response.statusCode, response.body).toBe(200);
    const body = recordOf(response);
    expect(body['status']).toBe('ready');
    const services = body['services'];
    if (!isRecord(services)) throw new Error(`no services: ${response.body}`);
    expect(Object.keys(services)).toEqual(expect.arrayContaining(['nats', 'redis']));
    expect(Object.values(services).every((state) => state === 'ok')).toBe(true);
  });
});

describe('ids are data, whatever they hold (the log message id is a digest of them)', () => {
  it('takes an id with CR or LF, and tells a retry it is a duplicate', async () => {
    const id = unique('line\r\nbreak');
    expect((await post(track({ id }))).statusCode).toBe(202);
    expect(recordOf(await post(track({ id })))['status']).toBe('duplicate');
    expect(await storedWithId(id)).toHaveLength(1);
  });

  it('keeps ids apart that a header would trim or re-encode to one', async () => {
    const base = unique('dd');
    for (const id of [base, `${base} `, ` ${base}`, `${base}\t`]) {
      expect(recordOf(await post(track({ id })))['status'], JSON.stringify(id)).toBe('accepted');
      expect(await storedWithId(id)).toHaveLength(1);
    }
  });

  it('answers 401 to a request without a key before looking at its body, and 415 to text', async () => {
    const anonymous = await send(f.app, { url: '/v1/events', body: {} });
    expectErrorShape(anonymous, 401);
    const text = await f.app.inject({
      method: 'POST',
      url: '/v1/events',
      headers: { authorization: `Bearer ${f.keys.ingest}`, 'content-type': 'text/plain' },
      payload: 'hello',
    });
    expectErrorShape(text, 415);
  });

  it('takes a user id of 256 characters in the path, in the one error shape beyond', async () => {
    const long = 'é'.repeat(256);
    const response = await send(f.app, {
      url: `/v1/users/${encodeURIComponent(long)}`,
      key: f.keys.ingest,
      body: { attributes: { plan: 'pro' } },
    });
    expect(response.statusCode, response.body).toBe(202);
    expectErrorShape(
      await send(f.app, {
        url: `/v1/users/${'x'.repeat(257)}`,
        key: f.keys.ingest,
        body: { attributes: {} },
      }),
      400,
    );
    expectErrorShape(
      await send(f.app, { method: 'GET', url: '/v1/users/%E0%A4%A/decisions', key: f.keys.read }),
      400,
    );
  });
});
