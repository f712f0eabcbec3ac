import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { ident, literal, raw, sql, SqlValueError } from '../../../pipeline/adapters/clickhouse/sql.ts';
import { testClickHouse } from './clickhouse-test-db.ts';

describe('literal', () => {
  it.each([
    [null, 'NULL'],
    [true, '1'],
    [false, '0'],
    [42, '42'],
    [-0, '0'],
    [1.5, '1.5'],
    [2n ** 64n - 1n, '18446744073709551615'],
    ["it's", "'it\\'s'"],
    ['back\\slash', "'back\\\\slash'"],
    ['line\nbreak\ttab\r\0', "'line\\nbreak\\ttab\\r\\0'"],
    ['\u0001\u007f', "'\\x01\\x7f'"],
    ['{x:String}', "'{x:String}'"],
    [['a', 1, null], "['a', 1, NULL]"],
  ] as const)('%s → %s', (value, expected) => {
    expect(literal(value)).toBe(expected);
  });

  it('refuses what cannot be written faithfully', () => {
    expect(() => literal(Number.NaN)).toThrow(SqlValueError);
    expect(() => literal(Number.POSITIVE_INFINITY)).toThrow(SqlValueError);
    expect(() => literal('a\ud800b')).toThrow(SqlValueError);
  });
});

describe('identifiers and the sql template', () => {
  it('quotes every interpolated value unless it is an identifier or a fragment', () => {
    const query = sql`SELECT ${ident('user_id')} FROM ${ident('t_1')}.${ident('decisions')} WHERE user_id = ${"x' OR 1=1 --"} ${raw('ORDER BY at DESC')}`;
    expect(query.text).toBe(
      "SELECT `user_id` FROM `t_1`.`decisions` WHERE user_id = 'x\\' OR 1=1 --' ORDER BY at DESC",
    );
  });

  it.each(['', 'a b', 'a`b', 'a;b', '1abc', 'x'.repeat(64), 'naïve'])('refuses the identifier %j', (name) => {
    expect(() => ident(name)).toThrow(SqlValueError);
  });
});

describe('literals round-trip through a real ClickHouse (fuzzed)', () => {
  const { client, drop } = testClickHouse();
  afterAll(drop);

  const select = async (values: readonly string[]): Promise<string[]> => {
    const result = await client.query({ query: sql`SELECT ${values} AS v`.text, format: 'JSONEachRow' });
    const [row] = await result.json<{ v: string[] }>();
    return row?.v ?? [];
  };

  it('any well-formed string comes back exactly: quotes, backslashes, comments, control characters, unicode', async () => {
    const hostile = fc.constantFrom(
      "'",
      "\\'",
      '\\',
      "'; DROP TABLE x; --",
      '/* */',
      '{x:String}',
      '\u0000',
      '\u2028',
      '😀',
      '\\x27',
      '%s',
    );
    const text = fc
      .array(
        fc.oneof(hostile, fc.string({ unit: 'binary' }), fc.string({ unit: 'grapheme', maxLength: 200 })),
        { maxLength: 8 },
      )
      .map((parts) => parts.join(''))
      .filter((s) => s.isWellFormed());
    await fc.assert(
      fc.asyncProperty(fc.array(text, { minLength: 1, maxLength: 200 }), async (values) => {
        expect(await select(values)).toEqual(values);
      }),
      { numRuns: 40 },
    );
  });

  it('numbers and booleans come back as the same values', async () => {
    for (const n of [0, -1, 2 ** 53 - 1, -(2 ** 53) + 1, 0.1, 1e-7, 123456.789]) {
      const result = await client.query({ query: sql`SELECT ${n} AS n`.text, format: 'JSONEachRow' });
      const [row] = await result.json<{ n: number | string }>();
      expect(Number(row?.n)).toBe(n);
    }
    const result = await client.query({
      query: sql`SELECT ${true} AS t, ${null} AS z`.text,
      format: 'JSONEachRow',
    });
    const [row] = await result.json<{ t: number; z: null }>();
    expect(row?.t).toBe(1);
    expect(row?.z).toBeNull();
  });
});
