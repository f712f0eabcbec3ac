import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  decodeLines,
  decodeLinesLeniently,
  decodePackLeniently,
  decodeTrustedPack,
  decodeValue,
  encodeLines,
  encodeValue,
  lineOf,
} from '../../../pipeline/adapters/nats/packs.ts';
import { isWellFormedEntry } from '../../../pipeline/core/log-entry.ts';
import { InputError, parseJson } from '../../../pipeline/errors.ts';

const utf8 = (text: string) => new TextEncoder().encode(text);
const NOT_UTF8 = new Uint8Array([0x7b, 0xff, 0xfe, 0x7d]);

describe('the pack codec', () => {
  it('decodes what it encodes: any JSON values, one a line, in order', () => {
    fc.assert(
      fc.property(fc.array(fc.jsonValue(), { maxLength: 8 }), (values) => {
        const body = encodeLines(values.map(lineOf));
        const expected = values.map((value) => JSON.parse(JSON.stringify(value)) as unknown);
        expect(decodeLines(body, 'x', parseJson)).toEqual(expected);
        expect(decodeLinesLeniently(body, 'x', parseJson)).toEqual({ values: expected, malformed: [] });
      }),
    );
  });

  it('a message of one value is a pack of one line', () => {
    const value = { a: 'é', b: [1, null] };
    expect(encodeValue(value)).toEqual(encodeLines([lineOf(value)]));
    expect(decodeValue(encodeValue(value))).toEqual(value);
  });

  it('skips blank lines and counts only the others when naming a line', () => {
    const body = utf8('1\n\n2\r\n\n{');
    expect(() => decodeLines(body, 'seq 3', parseJson)).toThrow(/^seq 3 line 3: invalid JSON/);
    const { values, malformed } = decodeLinesLeniently(body, 'seq 3', parseJson);
    expect(values).toEqual([1, 2]);
    expect(malformed.map(({ index, line }) => ({ index, line }))).toEqual([{ index: 2, line: '{' }]);
    expect(malformed[0]?.problem).toMatch(/^seq 3 line 3: invalid JSON/);
  });

  it('a body that is not UTF-8: strict throws, lenient sets it aside whole, trusted skips it', () => {
    expect(() => decodeLines(NOT_UTF8, 'seq 4', parseJson)).toThrow(InputError);
    expect(() => decodeLines(NOT_UTF8, 'seq 4', parseJson)).toThrow('seq 4: the body is not UTF-8');
    expect(decodeLinesLeniently(NOT_UTF8, 'seq 4', parseJson)).toEqual({
      values: [],
      malformed: [{ index: 0, line: '{\ufffd\ufffd}', problem: 'seq 4: the body is not UTF-8' }],
    });
    expect(decodeTrustedPack(NOT_UTF8)).toEqual([]);
  });

  // Not a line whose flat object holds a "__proto__" key with a nested value: the schema drops the
  // key and accepts it, the fast check refuses it, and the trusted decode skips it.
  it('the trusted decode of entries gives the entries the lenient decode gives, broken lines skipped', () => {
    const entry = fc.record(
      {
        type: fc.constantFrom('track', 'identify', 'page'),
        id: fc.oneof(fc.string({ minLength: 1, maxLength: 3 }), fc.constantFrom('', 7)),
        name: fc.string({ maxLength: 3 }),
        user_id: fc.string({ minLength: 1, maxLength: 3 }),
        received_at: fc.oneof(fc.nat(), fc.constantFrom(-1, 1.5)),
        metadata: fc.dictionary(fc.string({ maxLength: 2 }), fc.oneof(fc.integer(), fc.constant([1]))),
        attributes: fc.dictionary(fc.string({ maxLength: 2 }), fc.oneof(fc.string(), fc.constant(null))),
      },
      { requiredKeys: ['type', 'id', 'user_id', 'received_at'] },
    );
    const line = fc.oneof(
      { weight: 6, arbitrary: entry.map((value) => JSON.stringify(value)) },
      { weight: 1, arbitrary: fc.constantFrom('{"type":"track"', '[]', 'null', '') },
    );
    fc.assert(
      fc.property(fc.array(line, { maxLength: 6 }), (lines) => {
        const body = utf8(lines.join('\n'));
        const lenient = decodePackLeniently(body, 'x').entries;
        expect(lenient.every((e) => isWellFormedEntry(e))).toBe(true);
        expect(decodeTrustedPack(body)).toEqual(lenient);
      }),
      { numRuns: 2_000 },
    );
  });
});
