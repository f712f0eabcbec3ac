import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decide } from '../../pipeline/core/decide.ts';
import {
  isArrayIndex,
  keysInSentOrder,
  mayBeOutOfOrder,
  sentOrderOf,
  setSentOrder,
} from '../../pipeline/core/key-order.ts';
import { needsSentOrder, usableMetadata } from '../../pipeline/core/log-entry.ts';
import type { FlatObject } from '../../pipeline/core/scalar.ts';
import { index, message, NONE, track, verdicts } from './builders.ts';

/** 25 keys sent as k1…k20, "99", k21…k24: JavaScript lists "99" first. */
const SENT = [...Array.from({ length: 20 }, (_, i) => `k${i + 1}`), '99', 'k21', 'k22', 'k23', 'k24'];
const sentMetadata = (): FlatObject => {
  const metadata: FlatObject = Object.fromEntries(SENT.map((key, i) => [key, i]));
  setSentOrder(metadata, SENT);
  return metadata;
};

describe('isArrayIndex: the keys JavaScript lists first', () => {
  it('agrees with the engine on any string', () => {
    const listedFirst = (key: string) => Object.keys({ [`${key}x`]: 0, [key]: 1 })[0] === key;
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string({ maxLength: 12 }),
          fc.nat().map(String),
          fc.bigInt({ min: 4_294_967_000n, max: 4_294_967_400n }).map(String),
          fc.constantFrom(
            '0',
            '00',
            '01',
            '-0',
            '-1',
            '1.5',
            '1e3',
            ' 1',
            '4294967294',
            '4294967295',
            '9007199254740993',
          ),
        ),
        (key) => {
          expect(isArrayIndex(key)).toBe(listedFirst(key));
        },
      ),
      { numRuns: 500 },
    );
  });
});

describe('mayBeOutOfOrder / needsSentOrder: the rare case only', () => {
  it('is true only for two keys or more with an integer-like one', () => {
    const keys = (n: number, integerLike: boolean) =>
      Object.fromEntries(
        Array.from({ length: n }, (_, i) => [integerLike && i === n - 1 ? '99' : `k${i}`, i]),
      );
    expect(needsSentOrder(undefined)).toBe(false);
    expect(needsSentOrder(keys(20, true))).toBe(true);
    expect(needsSentOrder(keys(2, true))).toBe(true);
    expect(needsSentOrder(keys(1, true))).toBe(false);
    expect(needsSentOrder(keys(21, false))).toBe(false);
    expect(needsSentOrder(keys(21, true))).toBe(true);
    expect(mayBeOutOfOrder({}, 0)).toBe(false);
    expect(mayBeOutOfOrder({ '0': 1 }, 0)).toBe(true);
  });
});

describe('setSentOrder: the order attached to a parsed object', () => {
  it('is seen by keysInSentOrder only: not by JSON, Object.keys, a spread or toEqual', () => {
    const metadata = sentMetadata();
    expect(keysInSentOrder(metadata)).toEqual(SENT);
    expect(Object.keys(metadata)[0]).toBe('99');
    expect(JSON.stringify(metadata)).toBe(JSON.stringify(Object.fromEntries(SENT.map((key, i) => [key, i]))));
    expect(sentOrderOf({ ...metadata })).toBeUndefined();
    expect(metadata).toEqual(Object.fromEntries(SENT.map((key, i) => [key, i])));
  });

  it('is refused when it does not name every key, and may name keys a schema dropped', () => {
    expect(setSentOrder({ a: 1, b: 2 }, ['a'])).toBe(false);
    expect(setSentOrder({ a: 1, b: 2 }, ['a', 'a', 'b'])).toBe(false);
    const dropped = { b: 2, a: 1 };
    expect(setSentOrder(dropped, ['__proto__', 'a', 'b'])).toBe(true);
    expect(keysInSentOrder(dropped)).toEqual(['a', 'b']);
    expect(setSentOrder(Object.freeze({ a: 1 }), ['a'])).toBe(false);
  });
});

describe('usableMetadata: the first 20 keys in the order sent', () => {
  it('takes the order attached, so the 20th key sent is usable and the 21st is not', () => {
    const usable = usableMetadata(sentMetadata()) ?? {};
    expect(Object.keys(usable).sort()).toEqual(SENT.slice(0, 20).sort());
    // Without the order (an object built in JavaScript), "99" comes first and takes k20's place.
    const unordered = usableMetadata(Object.fromEntries(SENT.map((key, i) => [key, i]))) ?? {};
    expect(Object.hasOwn(unordered, '99')).toBe(true);
    expect(Object.hasOwn(unordered, 'k20')).toBe(false);
  });

  it('a rule on k20 (20th sent) sends and one on "99" (21st sent) is filtered', () => {
    const verdictFor = (field: string) =>
      verdicts(
        decide(
          undefined,
          track({ metadata: sentMetadata() }),
          index(message({ trigger: { event: 'evt', where: { field, op: 'exists' } } })),
          NONE,
        ).decisions,
      );
    expect(verdictFor('metadata.k20')).toEqual(['sent']);
    expect(verdictFor('metadata.k1')).toEqual(['sent']);
    expect(verdictFor('metadata.99')).toEqual(['filtered:event_filter']);
  });
});
