import fc from 'fast-check';
import type { LightMyRequestResponse } from 'fastify';
import { describe, expect, it } from 'vitest';
import { apiFixture, NOW } from './api-fixture.ts';
import { expectErrorShape, isRecord, recordOf } from './api-helpers.ts';

/**
 * Hostile bodies against the ingest routes on the real NATS and Redis: whatever is sent, the answer
 * is a 2xx or a 4xx in the one error shape, and every entry a 202 calls accepted is in the log, as
 * sent. Bodies are JSON *text* built here rather than JSON.stringify'd values, so that they can hold
 * what a JS value cannot: "__proto__" keys, repeated keys, 1e400, 2^64 and invalid JSON.
 */

const RUNS = 10_000;
// 10k runs a route against a real JetStream: well past vitest's default on a slow 2-core machine.
const TIMEOUT_MS = 120_000;

// ---------------------------------------------------------------------------------------------
// JSON text
// ---------------------------------------------------------------------------------------------

const quote = (text: string) => JSON.stringify(text);

const objectText = (pairs: readonly (readonly [string, string])[]) =>
  `{${pairs.map(([key, value]) => `${quote(key)}:${value}`).join(',')}}`;
const arrayText = (items: readonly string[]) => `[${items.join(',')}]`;

const repeated = (min: number, max: number) =>
  fc
    .tuple(fc.integer({ min, max }), fc.constantFrom('x', 'é', '😀', ' '))
    .map(([length, unit]) => unit.repeat(length));

/** Mostly short strings; some unicode, lone surrogates, control characters, and a few very long. */
const text = fc.oneof(
  { weight: 12, arbitrary: fc.string({ maxLength: 10 }) },
  { weight: 4, arbitrary: fc.string({ unit: 'grapheme', maxLength: 8 }) },
  { weight: 3, arbitrary: fc.string({ unit: 'binary', maxLength: 8 }) },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      '',
      '\ud800',
      '\udfff',
      'a\udc00b',
      '\u0000',
      '\u2028',
      '\ufeffx',
      '\t',
      '%00',
      'a\nb',
      '\r\n',
      ' ',
    ),
  },
  { weight: 1, arbitrary: repeated(250, 300) },
  { weight: 1, arbitrary: repeated(4_000, 10_000) },
);

const numberText = fc.oneof(
  { weight: 6, arbitrary: fc.integer().map(String) },
  { weight: 3, arbitrary: fc.double({ noNaN: true, noDefaultInfinity: true }).map((n) => JSON.stringify(n)) },
  { weight: 2, arbitrary: fc.bigInt({ min: 2n ** 53n - 2n, max: 2n ** 80n }).map(String) },
  { weight: 1, arbitrary: fc.constantFrom('1e400', '-1e400', '1e-400', '-0', '9007199254740993', '0.0') },
);
/** Numbers JSON does not have: the body is not JSON. */
const badNumberText = fc.constantFrom('NaN', 'Infinity', '-Infinity', '+1', '.5', '0x10', '01', 'undefined');

const scalarText = fc.oneof(
  { weight: 5, arbitrary: text.map(quote) },
  { weight: 4, arbitrary: numberText },
  { weight: 2, arbitrary: fc.constantFrom('true', 'false', 'null') },
);

const CONTRACT_KEYS = [
  'type',
  'id',
  'name',
  'user_id',
  'created_at',
  'received_at',
  'metadata',
  'context',
  'attributes',
  'events',
] as const;
const key = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(...CONTRACT_KEYS) },
  { weight: 3, arbitrary: text },
  {
    weight: 2,
    arbitrary: fc.constantFrom('__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty'),
  },
  { weight: 1, arbitrary: repeated(120, 400) },
);

/** Any JSON value, nested a few levels. */
const { value: anyValue } = fc.letrec<{ value: string; array: string; object: string }>((tie) => ({
  value: fc.oneof({ depthSize: 'small' }, scalarText, tie('array'), tie('object')),
  array: fc.array(tie('value'), { maxLength: 4 }).map(arrayText),
  object: fc.array(fc.tuple(key, tie('value')), { maxLength: 5 }).map(objectText),
}));

/** Keys of a flat object: mostly plain, so that most flat objects are valid and the rest tell. */
const flatKey = fc.oneof(
  { weight: 8, arbitrary: fc.string({ maxLength: 12 }) },
  { weight: 1, arbitrary: key },
);

/** A flat object as metadata, context or attributes take it: mostly valid, some over the limits, some nested. */
const flatText = fc.oneof(
  { weight: 8, arbitrary: fc.array(fc.tuple(flatKey, scalarText), { maxLength: 6 }).map(objectText) },
  {
    weight: 2,
    arbitrary: fc
      .tuple(fc.integer({ min: 18, max: 104 }), fc.boolean())
      .map(([count, integerKeys]) =>
        objectText(
          Array.from({ length: count }, (_, i) => [integerKeys ? String(i) : `k${i}`, String(i)] as const),
        ),
      ),
  },
  { weight: 1, arbitrary: fc.array(fc.tuple(key, anyValue), { minLength: 1, maxLength: 3 }).map(objectText) },
  { weight: 1, arbitrary: anyValue },
);

/** An id with the entropy to be unique, or a hostile one. */
const idText = fc.oneof({ weight: 4, arbitrary: fc.uuid() }, { weight: 1, arbitrary: text }).map(quote);
const idValue = fc.oneof({ weight: 8, arbitrary: idText }, { weight: 1, arbitrary: anyValue });
const userIdValue = fc.oneof(
  { weight: 8, arbitrary: fc.constantFrom('u1', 'u2', 'ü3', 'user 4').map(quote) },
  { weight: 2, arbitrary: anyValue },
);
const timestampText = fc.oneof(
  { weight: 4, arbitrary: fc.integer({ min: 0, max: 2 ** 42 }).map(String) },
  { weight: 1, arbitrary: numberText },
);

/** Pairs sometimes added to an entry: contract-breaking keys, repeated keys, poisoning. */
const extraPairs = fc.oneof(
  { weight: 24, arbitrary: fc.constant([] as [string, string][]) },
  { weight: 3, arbitrary: fc.array(fc.tuple(key, anyValue), { minLength: 1, maxLength: 2 }) },
  {
    weight: 1,
    arbitrary: fc.constantFrom<[string, string][]>(
      [['received_at', String(NOW)]],
      [['type', '"identify"']],
      [['__proto__', '{"polluted":true}']],
      [['constructor', '{"prototype":{"polluted":true}}']],
    ),
  },
);

const optionalPair = (name: string, value: fc.Arbitrary<string>, absentWeight = 1) =>
  fc.oneof(
    { weight: absentWeight, arbitrary: fc.constant([] as [string, string][]) },
    { weight: 2, arbitrary: value.map((v): [string, string][] => [[name, v]]) },
  );

const trackPairs = fc
  .tuple(
    optionalPair('id', idValue),
    fc.oneof(
      { weight: 8, arbitrary: fc.constantFrom('signup', 'page view', '🛒').map(quote) },
      { weight: 1, arbitrary: anyValue },
    ),
    userIdValue,
    optionalPair('created_at', timestampText, 3),
    optionalPair('metadata', flatText),
    optionalPair('context', flatText, 3),
  )
  .map(([id, name, userId, createdAt, metadata, context]): [string, string][] => [
    ['type', '"track"'],
    ...id,
    ['name', name],
    ['user_id', userId],
    ...createdAt,
    ...metadata,
    ...context,
  ]);

const identifyPairs = fc
  .tuple(optionalPair('id', idValue), userIdValue, flatText)
  .map(([id, userId, attributes]): [string, string][] => [
    ['type', '"identify"'],
    ...id,
    ['user_id', userId],
    ['attributes', attributes],
  ]);

/** An entry as a client means to send one, mostly valid, sometimes broken on purpose. */
const entryText = fc
  .tuple(
    fc.oneof({ weight: 3, arbitrary: trackPairs }, { weight: 1, arbitrary: identifyPairs }),
    extraPairs,
    // Now and then a pair goes missing, a required one included.
    fc.oneof({ weight: 9, arbitrary: fc.constant(-1) }, { weight: 1, arbitrary: fc.nat({ max: 3 }) }),
  )
  .map(([pairs, extra, drop]) => objectText([...pairs.filter((_, i) => i !== drop), ...extra]));

/** Text that is not JSON, or JSON fastify refuses to parse. */
const malformed = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.constantFrom(
      '',
      ' ',
      '{',
      '}',
      '{"type":"track"',
      '{"type":"track",}',
      "{'type':'track'}",
      '[1,]',
      '\ufeff{}',
      '{"__proto__":{"polluted":true}}',
      '{"constructor":{"prototype":{"polluted":true}}}',
    ),
  },
  {
    weight: 2,
    arbitrary: fc.tuple(entryText, fc.nat()).map(([t, cut]) => t.slice(0, cut % Math.max(t.length, 1))),
  },
  {
    weight: 2,
    arbitrary: fc
      .tuple(badNumberText, fc.constantFrom('metadata', 'created_at', 'attributes'))
      .map(([bad, where]) =>
        where === 'created_at'
          ? `{"type":"track","name":"n","user_id":"u","created_at":${bad}}`
          : `{"type":"identify","user_id":"u","${where}":{"n":${bad}}}`,
      ),
  },
  { weight: 1, arbitrary: badNumberText },
);

/** A body for `POST /v1/events` with one entry. */
const singleBody = fc.oneof(
  { weight: 14, arbitrary: entryText },
  { weight: 3, arbitrary: anyValue },
  { weight: 2, arbitrary: malformed },
);

/** A full batch, rarely: 1000 entries are taken, 1001 refused whole. */
const fullBatch = fc
  .constantFrom(1_000, 1_001)
  .map((count) =>
    objectText([['events', arrayText(Array(count).fill('{"type":"track","name":"bulk","user_id":"u9"}'))]]),
  );

/** A body for `POST /v1/events` with a batch. */
const batchBody = fc.oneof(
  {
    weight: 1_600,
    arbitrary: fc
      .tuple(
        fc.array(fc.oneof({ weight: 6, arbitrary: entryText }, { weight: 1, arbitrary: anyValue }), {
          maxLength: 5,
        }),
        extraPairs,
      )
      .map(([items, extra]) => objectText([['events', arrayText(items)], ...extra])),
  },
  { weight: 200, arbitrary: anyValue.map((value) => objectText([['events', value]])) },
  { weight: 200, arbitrary: malformed },
  // About ten full batches in 10k runs: enough to cross the limit both ways, cheap enough to store.
  { weight: 2, arbitrary: fc.noShrink(fullBatch) },
);

/** `POST /v1/users/:id`: the path's user and a body of attributes. */
const usersRequest = fc.record({
  // Path ids are well-formed: a lone surrogate cannot be URL-encoded at all. Long ones included
  // (fastify's own limit on a parameter was once below the 256 characters a user id may have).
  user: fc
    .oneof(
      { weight: 4, arbitrary: fc.constantFrom('u1', 'ü2', 'user 3', 'a/b', '..', '%') },
      { weight: 2, arbitrary: text },
    )
    .map((user) => user.toWellFormed())
    .map((user) => (user.length % 7 === 0 ? user.padEnd(256, 'x') : user)),
  body: fc.oneof(
    {
      weight: 10,
      arbitrary: fc
        .tuple(optionalPair('id', idValue), optionalPair('attributes', flatText, 0), extraPairs)
        .map(([id, attributes, extra]) => objectText([...id, ...attributes, ...extra])),
    },
    { weight: 3, arbitrary: anyValue },
    { weight: 2, arbitrary: malformed },
  ),
});

// ---------------------------------------------------------------------------------------------
// The property
// ---------------------------------------------------------------------------------------------

type Fixture = Awaited<ReturnType<typeof apiFixture>>;

/** An entry as the log should hold it: the body parsed as the server parses it, stamped. */
const stamped = (input: unknown, id: unknown, extra: Record<string, unknown> = {}) => ({
  ...extra,
  ...(isRecord(input) ? input : {}),
  id,
  received_at: NOW,
});

/** One JSON text for an entry whatever its key order, so that the log and the expectations compare as multisets. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (isRecord(value))
    return `{${Object.keys(value)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical(value[k])}`)
      .join(',')}}`;
  return JSON.stringify(value);
}

class Tally {
  runs = 0;
  accepted = 0;
  refused = 0;
  /** Every entry the API said it accepted, as the log should hold it. */
  readonly expected: string[] = [];
}

/**
 * The checks of one answer. `parsed` is the body as JSON.parse reads it (undefined when it is not
 * JSON): an accepted entry must be stored exactly as it was sent.
 */
function check(response: LightMyRequestResponse, parsed: unknown, tally: Tally, pathUser?: string): void {
  tally.runs++;
  const status = response.statusCode;
  if (status >= 400 && status < 500) {
    expectErrorShape(response, status);
    tally.refused++;
    return;
  }
  expect(status, response.body.slice(0, 500)).toBe(202);
  const answer = recordOf(response);
  if (!('results' in answer)) {
    expect(answer['received_at']).toBe(NOW);
    expect(['accepted', 'duplicate']).toContain(answer['status']);
    expect(typeof answer['id']).toBe('string');
    if (answer['status'] !== 'accepted') return;
    tally.accepted++;
    const identify = pathUser === undefined ? {} : { type: 'identify', user_id: pathUser };
    tally.expected.push(canonical(stamped(parsed, answer['id'], identify)));
    return;
  }
  const events = isRecord(parsed) && Array.isArray(parsed['events']) ? (parsed['events'] as unknown[]) : [];
  const results = answer['results'];
  if (!Array.isArray(results)) throw new Error(`results is not a list: ${response.body.slice(0, 300)}`);
  expect(results).toHaveLength(events.length);
  const counts = { accepted: 0, duplicate: 0, rejected: 0 };
  results.forEach((result: unknown, index) => {
    if (!isRecord(result)) throw new Error(`result ${index} is not an object`);
    expect(result['index']).toBe(index);
    const state = result['status'];
    if (state !== 'accepted' && state !== 'duplicate' && state !== 'rejected')
      throw new Error(`result ${index} has status ${String(state)}`);
    counts[state]++;
    if (state === 'rejected') {
      expect(result['error']).toMatchObject({ code: 'invalid_entry', message: expect.any(String) as string });
      return;
    }
    expect(result['received_at']).toBe(NOW);
    if (state === 'accepted') tally.expected.push(canonical(stamped(events[index], result['id'])));
  });
  expect(counts.rejected).toBeLessThan(events.length);
  expect(answer).toMatchObject({
    accepted: counts.accepted,
    duplicates: counts.duplicate,
    rejected: counts.rejected,
  });
  tally.accepted += counts.accepted;
}

const parse = (body: string): unknown => {
  try {
    return JSON.parse(body) as unknown;
  } catch {
    return undefined;
  }
};

/** Runs `request` on RUNS generated values against a fresh namespace, then compares the log with what was accepted. */
async function fuzz<T>(
  label: string,
  arbitrary: fc.Arbitrary<T>,
  request: (
    f: Fixture,
    value: T,
  ) => Promise<{ response: LightMyRequestResponse; body: string; user?: string }>,
): Promise<void> {
  const f = await apiFixture();
  const tally = new Tally();
  try {
    await fc.assert(
      fc.asyncProperty(arbitrary, async (value) => {
        const { response, body, user } = await request(f, value);
        check(response, parse(body), tally, user);
      }),
      { numRuns: RUNS },
    );
    const stored = (await f.logged()).map(canonical).sort();
    expect(stored).toEqual([...tally.expected].sort());
    expect(tally.runs).toBeGreaterThanOrEqual(RUNS);
    // The generators must reach both sides of the contract, or the property says little.
    expect(tally.accepted).toBeGreaterThan(RUNS / 10);
    expect(tally.refused).toBeGreaterThan(RUNS / 10);
    console.info(
      `${label}: ${tally.runs} runs, ${tally.accepted} entries accepted, ${tally.refused} refused`,
    );
  } finally {
    await f.close();
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
  }
}

const post = (f: Fixture, url: string, payload: string) =>
  f.app.inject({
    method: 'POST',
    url,
    headers: { authorization: `Bearer ${f.keys.ingest}`, 'content-type': 'application/json' },
    payload,
  });

// Concurrent: each property spends most of its time waiting for JetStream's acknowledgements, so
// the three overlap well (a third less wall time) in their own namespaces.
describe.concurrent(
  'hostile bodies: never a 5xx, every 4xx in the error shape, every accepted entry in the log',
  () => {
    it(
      'POST /v1/events, one entry',
      () =>
        fuzz('POST /v1/events (one entry)', singleBody, async (f, body) => ({
          response: await post(f, '/v1/events', body),
          body,
        })),
      TIMEOUT_MS,
    );

    it(
      'POST /v1/events, a batch',
      () =>
        fuzz('POST /v1/events (batch)', batchBody, async (f, body) => ({
          response: await post(f, '/v1/events', body),
          body,
        })),
      TIMEOUT_MS,
    );

    it(
      'POST /v1/users/:id',
      () =>
        fuzz('POST /v1/users/:id', usersRequest, async (f, { user, body }) => ({
          response: await post(f, `/v1/users/${encodeURIComponent(user)}`, body),
          body,
          user,
        })),
      TIMEOUT_MS,
    );
  },
);
