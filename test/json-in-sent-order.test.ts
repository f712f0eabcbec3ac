import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isArrayIndex, keysInSentOrder, sentOrderOf, setSentOrder } from '../pipeline/core/key-order.ts';
import type { LogEntry } from '../pipeline/core/log-entry.ts';
import {
  entryJson,
  flatJson,
  orderFromText,
  parseInSentOrder,
  valueAt,
} from '../pipeline/json-in-sent-order.ts';

/** A JSON document written member by member, so its objects keep any order, repeated keys included. */
type Doc =
  | null
  | boolean
  | number
  | string
  | readonly Doc[]
  | { readonly members: readonly (readonly [string, Doc])[] };
const keyArb = fc.oneof(
  fc.constantFrom('0', '17', '99', '__proto__', '01', 'a'),
  fc.string({ maxLength: 4 }),
);
const { doc: docArb } = fc.letrec<{ doc: Doc }>((tie) => ({
  doc: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.constant(null),
    fc.boolean(),
    fc.integer(),
    fc.double({ noNaN: true, noDefaultInfinity: true }),
    fc.string({ unit: 'binary', maxLength: 6 }),
    fc.array(tie('doc'), { maxLength: 4 }),
    fc.array(fc.tuple(keyArb, tie('doc')), { maxLength: 6 }).map((members) => ({ members })),
  ),
}));
const space = (n: number) => ' \n\t\r'.slice(0, n % 5);
function write(doc: Doc, n = 0): string {
  if (doc === null || typeof doc !== 'object') return JSON.stringify(doc);
  if (Array.isArray(doc))
    return `[${(doc as readonly Doc[]).map((item, i) => space(n + i) + write(item, n + i)).join(',')}]`;
  const { members } = doc as { members: readonly (readonly [string, Doc])[] };
  return `{${members.map(([key, value], i) => `${space(i)}${JSON.stringify(key)}${space(n)}:${write(value, n + 1)}`).join(',')}${space(n)}}`;
}

/** Every object of `value` and of `doc`, side by side, checked for its keys in the order first sent. */
function expectOrders(value: unknown, doc: Doc): void {
  if (doc === null || typeof doc !== 'object') return;
  if (Array.isArray(doc)) {
    (doc as readonly Doc[]).forEach((item, i) => {
      expectOrders((value as unknown[])[i], item);
    });
    return;
  }
  const { members } = doc as { members: readonly (readonly [string, Doc])[] };
  const sent = [...new Set(members.map(([key]) => key))];
  expect(keysInSentOrder(value as object)).toEqual(sent);
  expect(sentOrderOf(value as object) !== undefined).toBe(sent.some(isArrayIndex));
  const last = new Map(members);
  for (const [key, inner] of last) expectOrders((value as Record<string, unknown>)[key], inner);
}

describe('parseInSentOrder', () => {
  it('gives what JSON.parse gives, each object with an integer-like key carrying the order first sent', () => {
    fc.assert(
      fc.property(docArb, (doc) => {
        const text = write(doc);
        const value = parseInSentOrder(text);
        expect(value).toStrictEqual(JSON.parse(text));
        expectOrders(value, doc);
      }),
      { numRuns: 300 },
    );
  });

  it('keeps __proto__ as data, reads escaped keys, and refuses what is not JSON', () => {
    const value = parseInSentOrder(
      '{"__proto__": {"polluted": true}, "\\u0039\\u0039": 1, "a": [ ]}',
    ) as object;
    expect(Object.getPrototypeOf(value)).toBe(Object.prototype);
    expect(Object.keys(value)).toEqual(['99', '__proto__', 'a']);
    expect(keysInSentOrder(value)).toEqual(['__proto__', '99', 'a']);
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
    for (const bad of ['', '{', '{"a" 1}', '[1,]', '{"a":1}x', 'tru', '"open'])
      expect(() => parseInSentOrder(bad), bad).toThrow(SyntaxError);
  });

  it('reads a document nested as deep as JSON.parse takes, without running out of stack', () => {
    const depth = 20_000;
    const text = `${'[{"0":'.repeat(depth)}1${'}]'.repeat(depth)}`;
    expect(() => parseInSentOrder(text)).not.toThrow();
  });
});

describe('orderFromText / valueAt', () => {
  it('attaches the order at a path, and leaves an object whose keys differ as it is', () => {
    const text = '{"events":[{"metadata":{"b":1,"7":2}},{"metadata":{"c":1,"8":2}}]}';
    const metadata = { '8': 2, c: 1 };
    expect(orderFromText(metadata, text, ['events', 1, 'metadata'])).toBe(true);
    expect(keysInSentOrder(metadata)).toEqual(['c', '8']);
    expect(orderFromText({ '9': 2, c: 1 }, text, ['events', 1, 'metadata'])).toBe(false);
    expect(orderFromText({ c: 1 }, 'not json', ['metadata'])).toBe(false);
    expect(valueAt(JSON.parse(text), ['events', 2, 'metadata'])).toBeUndefined();
    expect(valueAt(JSON.parse(text), ['events', 'x'])).toBeUndefined();
  });
});

describe('entryJson / flatJson: the log line', () => {
  it('is JSON.stringify for an entry without an order, and writes metadata in its order otherwise', () => {
    const metadata: Record<string, number> = { '99': 21, a: 1 };
    const entry: LogEntry = { type: 'track', id: 'e', name: 'n', user_id: 'u', received_at: 1, metadata };
    expect(entryJson(entry)).toBe(JSON.stringify(entry));
    setSentOrder(metadata, ['a', '99']);
    expect(entryJson(entry)).toBe(
      '{"type":"track","id":"e","name":"n","user_id":"u","received_at":1,"metadata":{"a":1,"99":21}}',
    );
    expect(flatJson(metadata)).toBe('{"a":1,"99":21}');
    const withUndefined: LogEntry = { ...entry, created_at: undefined };
    expect(JSON.parse(entryJson(withUndefined))).toEqual(JSON.parse(JSON.stringify(withUndefined)));
  });
});
