import fc from 'fast-check';
import { expect } from 'vitest';
import { isArrayIndex, keysInSentOrder } from '../../pipeline/core/key-order.ts';
import { USABLE_METADATA_KEYS, usableMetadata } from '../../pipeline/core/log-entry.ts';
import type { FlatObject, Scalar } from '../../pipeline/core/scalar.ts';

/**
 * Metadata as a producer sends it, drawn as [key, value] pairs in the order sent: keys that
 * JavaScript lists first (`"0"`, `"17"`, `"99"`, `"4294967294"`), ones it does not (`"01"`, `"-1"`,
 * `"4294967295"`), `__proto__` and other keys an object answers from its prototype, and any string;
 * fewer and more than the 20 usable keys.
 */
export type Pairs = readonly (readonly [string, Scalar])[];

const SPECIAL_KEYS = [
  '0',
  '17',
  '99',
  '__proto__',
  '4294967294',
  '4294967295',
  '01',
  '-1',
  'constructor',
  '',
];

export const keyArb: fc.Arbitrary<string> = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...SPECIAL_KEYS) },
  { weight: 3, arbitrary: fc.nat({ max: 999 }).map(String) },
  { weight: 4, arbitrary: fc.string({ maxLength: 10 }) },
);
export const scalarArb: fc.Arbitrary<Scalar> = fc.oneof(
  fc.string({ maxLength: 6 }),
  fc.integer(),
  fc.boolean(),
  fc.constant(null),
);

/** As many pairs as drawn (fast-check's default sizes would rarely pass 20): half up to 20, half more. */
const pairsOf = (keys: fc.Arbitrary<string>) =>
  fc
    .oneof(
      fc.integer({ min: 0, max: USABLE_METADATA_KEYS }),
      fc.integer({ min: USABLE_METADATA_KEYS + 1, max: 32 }),
    )
    .chain((length) =>
      fc.uniqueArray(fc.tuple(keys, scalarArb), {
        selector: ([key]) => key,
        minLength: length,
        maxLength: length,
      }),
    );

/** Up to 32 pairs, half of them past 20; some without `__proto__`, some with no integer-like key at all. */
export const pairsArb: fc.Arbitrary<Pairs> = fc.oneof(
  { weight: 4, arbitrary: pairsOf(keyArb) },
  { weight: 2, arbitrary: pairsOf(keyArb.filter((key) => key !== '__proto__')) },
  { weight: 1, arbitrary: pairsOf(fc.string({ maxLength: 8 }).filter((key) => !isArrayIndex(key))) },
);

/** The JSON text of pairs, in their order (what `JSON.stringify` of an object cannot write). */
export const pairsJson = (pairs: Pairs): string =>
  `{${pairs.map(([key, value]) => `${JSON.stringify(key)}:${JSON.stringify(value)}`).join(',')}}`;

/** A log line (or a file's line) of a track entry carrying `pairs` as its metadata, in their order. */
export function trackLine(
  fields: { id: string; name: string; user_id: string; received_at?: number },
  pairs: Pairs,
) {
  const members = JSON.stringify(fields).slice(1, -1);
  return `{"type":"track",${members},"metadata":${pairsJson(pairs)}}`;
}

/**
 * What DESIGN §2 promises: the usable metadata is the first 20 pairs sent, each with its value;
 * and where more than 20 were sent, the metadata lists every key in the order sent (so whoever
 * writes it on, writes that order).
 */
export function expectFirstTwentyUsable(metadata: FlatObject | undefined, pairs: Pairs): void {
  const usable = usableMetadata(metadata) ?? {};
  const first = pairs.slice(0, USABLE_METADATA_KEYS);
  expect(Object.keys(usable).sort()).toEqual(first.map(([key]) => key).sort());
  for (const [key, value] of first) expect(usable[key]).toBe(value);
  expect(Object.getPrototypeOf(usable)).toBe(Object.prototype);
  if (pairs.length > USABLE_METADATA_KEYS && metadata !== undefined)
    expect(keysInSentOrder(metadata)).toEqual(pairs.map(([key]) => key));
}

/** Properties as Segment and Intercom send them: scalars, nested objects of scalars, arrays of scalars. */
export type Node = Scalar | { readonly object: Pairs } | { readonly array: readonly Scalar[] };
export type Tree = readonly (readonly [string, Node])[];
// Keys without a dot, and not empty (the flattening takes an empty key at the top as no prefix), so
// that no two paths flatten to the same name.
const plainKey = keyArb.filter((key) => key !== '' && !key.includes('.'));
const treeOf = (key: fc.Arbitrary<string>): fc.Arbitrary<Tree> =>
  fc.integer({ min: 0, max: 30 }).chain((length) =>
    fc.uniqueArray(
      fc.tuple(
        key,
        fc.oneof(
          { weight: 6, arbitrary: scalarArb },
          {
            weight: 1,
            arbitrary: fc
              .uniqueArray(fc.tuple(key, scalarArb), {
                selector: ([inner]) => inner,
                maxLength: 8,
                size: 'max',
              })
              .map((object): Node => ({ object })),
          },
          { weight: 1, arbitrary: fc.array(scalarArb, { maxLength: 3 }).map((array): Node => ({ array })) },
        ),
      ),
      { selector: ([outer]) => outer, minLength: length, maxLength: length },
    ),
  );
/** Up to 30 properties, some nested: often more than 20 once flattened; some without `__proto__`. */
export const treeArb: fc.Arbitrary<Tree> = fc.oneof(
  treeOf(plainKey),
  treeOf(plainKey.filter((key) => key !== '__proto__')),
);
const nodeJson = (node: Node): string =>
  node !== null && typeof node === 'object'
    ? 'object' in node
      ? pairsJson(node.object)
      : JSON.stringify(node.array)
    : JSON.stringify(node);
export const treeJson = (tree: Tree): string =>
  `{${tree.map(([key, node]) => `${JSON.stringify(key)}:${nodeJson(node)}`).join(',')}}`;
/** The dotted pairs Nudge's flattening gives, in the order sent. */
export const flattened = (tree: Tree): Pairs =>
  tree.flatMap(([key, node]): Pairs => {
    if (node === null || typeof node !== 'object') return [[key, node]];
    if ('object' in node) return node.object.map(([inner, value]) => [`${key}.${inner}`, value] as const);
    return node.array.map((value, i) => [`${key}.${i}`, value] as const);
  });
