import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  cutPacks,
  encodeLines,
  lineOf,
  PACK_BYTES,
  PACK_SIZE,
  packId,
} from '../../../pipeline/adapters/nats/packs.ts';

type Item = { readonly n: number; readonly bytes: number };

const items = (sizes: readonly number[]): Item[] => sizes.map((bytes, n) => ({ n, bytes }));
const bytesOf = (item: Item): number => item.bytes;
/** A pack's bytes as the limit counts them: every line with its newline. */
const packBytes = (pack: readonly Item[]): number => pack.reduce((sum, item) => sum + item.bytes + 1, 0);
const lengths = (packs: readonly (readonly unknown[])[]): number[] => packs.map((pack) => pack.length);

describe('cutPacks', () => {
  it('makes no pack of no items', () => {
    expect(cutPacks([], bytesOf)).toEqual([]);
  });

  it('cuts small items into packs of PACK_SIZE, the rest in a last smaller pack, in order', () => {
    const small = items(Array.from({ length: 2 * PACK_SIZE + 50 }, () => 10));
    const packs = cutPacks(small, bytesOf);
    expect(lengths(packs)).toEqual([PACK_SIZE, PACK_SIZE, 50]);
    expect(packs.flat()).toEqual(small);
  });

  it('fills a pack up to exactly PACK_BYTES counting a newline per item, and no further', () => {
    const half = PACK_BYTES / 2 - 1;
    expect(lengths(cutPacks(items([half, half]), bytesOf))).toEqual([2]);
    expect(lengths(cutPacks(items([half, half + 1]), bytesOf))).toEqual([1, 1]);
    expect(lengths(cutPacks(items([half, half, 0]), bytesOf))).toEqual([2, 1]);
  });

  it('keeps an item of PACK_BYTES - 1 bytes in a pack of its own, within the limit', () => {
    expect(lengths(cutPacks(items([1, PACK_BYTES - 1, 1]), bytesOf))).toEqual([1, 1, 1]);
  });

  it('gives an item larger than PACK_BYTES a pack of its own, between its neighbours, in order', () => {
    const sizes = items([5, 5, PACK_BYTES + 1, 5, 3 * PACK_BYTES, 5]);
    const packs = cutPacks(sizes, bytesOf);
    expect(packs.map((pack) => pack.map((item) => item.n))).toEqual([[0, 1], [2], [3], [4], [5]]);
  });

  it('concatenates back to the items in order, every pack within both limits unless a single oversize item, each pack as full as the next item allows', () => {
    const size = fc.oneof(
      { weight: 6, arbitrary: fc.integer({ min: 0, max: 64 }) },
      { weight: 2, arbitrary: fc.integer({ min: 0, max: PACK_BYTES + 1_000 }) },
      {
        weight: 1,
        arbitrary: fc.constantFrom(PACK_BYTES / 2 - 1, PACK_BYTES - 1, PACK_BYTES, PACK_BYTES + 1),
      },
    );
    fc.assert(
      fc.property(fc.array(size, { maxLength: 450, size: 'max' }), (sizes) => {
        const given = items(sizes);
        const packs = cutPacks(given, bytesOf);
        expect(packs.flat()).toEqual(given);
        packs.forEach((pack, i) => {
          expect(pack.length).toBeGreaterThan(0);
          expect(pack.length).toBeLessThanOrEqual(PACK_SIZE);
          if (packBytes(pack) > PACK_BYTES) expect(pack).toHaveLength(1);
          const next = packs[i + 1]?.[0];
          if (next !== undefined && pack.length < PACK_SIZE)
            expect(packBytes(pack) + next.bytes + 1).toBeGreaterThan(PACK_BYTES);
        });
      }),
      { numRuns: 300 },
    );
  });
});

describe('lineOf and encodeLines', () => {
  const utf8 = (text: string) => new TextEncoder().encode(text).length;

  it('is the JSON text of the value, measured at no fewer bytes than its UTF-8', () => {
    const line = lineOf({ name: 'café 😀' });
    expect(line.text).toBe('{"name":"café 😀"}');
    expect(line.bytes).toBeGreaterThanOrEqual(utf8(line.text));
    expect(utf8(line.text)).toBeGreaterThan(line.text.length);
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        const { text, bytes } = lineOf(value);
        expect(text).toBe(JSON.stringify(value));
        expect(bytes).toBeGreaterThanOrEqual(utf8(text));
      }),
    );
  });

  it('encodes lines as NDJSON, one line each in order, without a trailing newline', () => {
    const body = encodeLines([lineOf({ a: 1 }), lineOf('two'), lineOf({ c: 'é' })]);
    expect(new TextDecoder().decode(body)).toBe('{"a":1}\n"two"\n{"c":"é"}');
  });

  it('encodes no lines as an empty body', () => {
    expect(encodeLines([])).toHaveLength(0);
  });

  it('keeps a body of lines cut by their measure within PACK_BYTES, unless it is a single line', () => {
    const unit = fc.constantFrom('a', 'é', '😀', '\n', '"');
    const text = fc
      .array(fc.tuple(unit, fc.integer({ min: 1, max: 20_000 })), { maxLength: 4 })
      .map((runs) => runs.map(([u, n]) => u.repeat(n)).join(''));
    fc.assert(
      fc.property(fc.array(text, { maxLength: 40, size: 'max' }), (texts) => {
        for (const pack of cutPacks(texts.map(lineOf), (line) => line.bytes)) {
          if (pack.length > 1) expect(encodeLines(pack).length).toBeLessThanOrEqual(PACK_BYTES);
        }
      }),
      { numRuns: 100 },
    );
  });
});

describe('packId', () => {
  it('is the same for the same parts and fits a header: the prefix and 43 base64url characters', () => {
    const parts = ['a', 'b c', 'd\r\ne'];
    expect(packId('pack', parts)).toBe(packId('pack', [...parts]));
    expect(packId('pack', parts)).toMatch(/^pack:[A-Za-z0-9_-]{43}$/);
  });

  it('tells apart ids that NATS would trim to the same header, the order of the parts, and the prefix', () => {
    expect(packId('entry', ['dd'])).not.toBe(packId('entry', ['dd ']));
    expect(packId('pack', ['a', 'b'])).not.toBe(packId('pack', ['b', 'a']));
    expect(packId('pack', ['a'])).not.toBe(packId('entry', ['a']));
  });

  it('tells apart lists of parts that differ only in where a newline or a separator inside a part falls', () => {
    expect(packId('pack', ['a\nb', 'c'])).not.toBe(packId('pack', ['a', 'b\nc']));
    expect(packId('pack', ['1:a', 'b'])).not.toBe(packId('pack', ['1', ':ab']));
    const parts = fc.array(fc.string({ unit: fc.constantFrom('1', ':', '\n', 'a'), maxLength: 4 }), {
      maxLength: 4,
    });
    fc.assert(
      fc.property(parts, parts, (a, b) => {
        expect(packId('pack', a) === packId('pack', b)).toBe(JSON.stringify(a) === JSON.stringify(b));
      }),
      { numRuns: 2_000 },
    );
  });

  it('tells apart ids that differ only in a lone surrogate, which UTF-8 cannot hold', () => {
    expect(packId('entry', ['id-\ud800'])).not.toBe(packId('entry', ['id-\udc00']));
  });
});
