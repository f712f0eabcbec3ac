import fc from 'fast-check';

/**
 * Values an attacker (or a careless client) sends, shared by the security suites. Strings are
 * what SQL, NATS subjects, Redis keys, file paths and templates could trip over; every one is
 * also sent where only a well-formed value belongs, so that validation must refuse it.
 */
export const SQL_INJECTIONS: readonly string[] = [
  "'",
  "''",
  "\\'",
  '\\',
  '\\\\',
  "x' OR 1=1 --",
  "' OR '1'='1",
  "' OR 1=1 /*",
  '*/ OR 1=1 /*',
  "x'; DROP TABLE decisions; --",
  "x'); DROP DATABASE default; --",
  '; SELECT 1',
  '{x:String}',
  "{x:String}' OR 1=1 --",
  "x' UNION ALL SELECT * FROM system.tables --",
  "x\\' OR 1=1 --",
  'x\u0000y',
  "x\u0000' OR 1=1 --",
  '`decisions`',
  'x`; DROP TABLE `decisions',
  "' FORMAT TabSeparated --",
  '%27%20OR%201%3D1',
  "'\n OR 1=1",
  "x'\r\n--",
  "ü'é😀' OR 1=1 --".repeat(40),
];

export const PATH_TRAVERSALS: readonly string[] = [
  '..',
  '../..',
  '../../../../etc/passwd',
  '..\\..\\windows\\win.ini',
  '%2e%2e%2f',
  '....//....//',
  '/etc/passwd',
  'a/../../b',
  '.',
  '~',
];

/** Strings that are valid UTF-16 only in part, or not text a client means. */
export const ODD_STRINGS: readonly string[] = [
  '',
  ' ',
  '\t',
  '\r\n',
  '\u0000',
  '\ud800',
  '\udfff',
  'a\udc00b',
  '\ud83d',
  '\u2028\u2029',
  '\ufeff',
  '\u202e',
  'e\u0301',
  '😀',
  'é',
  '__proto__',
  'constructor',
  'prototype',
  'toString',
  'hasOwnProperty',
  'null',
  'undefined',
  'NaN',
  'true',
  '0',
  '-1',
  '1e400',
  '{{ constructor.constructor("return process")() }}',
  '{{ __proto__ }}',
  '${process.exit()}',
  '<script>alert(1)</script>',
  'nats.>',
  't.catalog.message.*',
  'a..b',
  'a.',
  '*',
  '>',
  'KEYS *',
  '\r\nSET x 1\r\n',
];

const repeat = (unit: string, length: number) =>
  unit.repeat(Math.ceil(length / unit.length)).slice(0, length);

/** Mostly short, some a few hundred characters (just over every id limit), a few very long. */
export const hostileString: fc.Arbitrary<string> = fc.oneof(
  { weight: 8, arbitrary: fc.constantFrom(...SQL_INJECTIONS, ...PATH_TRAVERSALS, ...ODD_STRINGS) },
  { weight: 4, arbitrary: fc.string({ maxLength: 12 }) },
  { weight: 2, arbitrary: fc.string({ unit: 'grapheme', maxLength: 8 }) },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 8 }) },
  {
    weight: 2,
    arbitrary: fc
      .tuple(
        fc.constantFrom('x', 'é', '😀', "'", '\\'),
        fc.constantFrom(127, 128, 129, 200, 255, 256, 257, 500),
      )
      .map(([unit, length]) => repeat(unit, length)),
  },
  { weight: 1, arbitrary: fc.constantFrom(4_095, 4_096, 4_097, 20_000).map((n) => repeat('x', n)) },
);

/** Rare: a string of 100k to 1M characters (a body far below the 5 MiB limit, but a lot of work). */
export const hugeString: fc.Arbitrary<string> = fc
  .tuple(fc.constantFrom(100_000, 1_000_000), fc.constantFrom('x', 'é', "'"))
  .map(([length, unit]) => repeat(unit, length));

/**
 * JSON text with no JS value: numbers JSON cannot hold, prototype keys, repeated keys, deep
 * nesting, and text that is not JSON at all. Used where a whole value or body goes.
 */
export const RAW_JSON: readonly string[] = [
  'NaN',
  'Infinity',
  '-Infinity',
  '1e400',
  '-1e400',
  '1e-400',
  '-0',
  '9007199254740993',
  '18446744073709551616',
  '0x10',
  '01',
  '.5',
  '+1',
  'undefined',
  "'single'",
  '{"__proto__":{"polluted":true}}',
  '{"constructor":{"prototype":{"polluted":true}}}',
  '{"a":1,"a":2}',
  '[1,]',
  '{,}',
  '"\\ud800"',
  '"\\u0000"',
  '"unterminated',
  '['.repeat(10_000) + ']'.repeat(10_000),
  '{"a":'.repeat(5_000) + '1' + '}'.repeat(5_000),
];

/** Malformed bodies: not JSON, cut short, or JSON fastify refuses to parse. */
export const MALFORMED_BODIES: readonly string[] = [
  '',
  ' ',
  '{',
  '}',
  '[',
  'null',
  'true',
  '0',
  '""',
  '{"a":}',
  "{'a':1}",
  '\ufeff{}',
  '{"__proto__":{"polluted":true}}',
  '{"constructor":{"prototype":{"polluted":true}}}',
  '['.repeat(100_000) + ']'.repeat(100_000),
  'a=1&b=2',
  '<xml/>',
];

/** A value written as JSON text as it is (see `jsonText`). */
export class RawJson {
  constructor(readonly text: string) {}
}

/** A scalar, or a value of the wrong type for any field. */
export const hostileScalar: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 6, arbitrary: hostileString },
  {
    weight: 3,
    arbitrary: fc.constantFrom<unknown>(
      0,
      -1,
      1.5,
      -0,
      2 ** 31,
      2 ** 32,
      2 ** 53,
      2 ** 53 + 2,
      Number.MAX_VALUE,
      Number.MIN_VALUE,
      true,
      false,
      null,
    ),
  },
  { weight: 2, arbitrary: fc.constantFrom(...RAW_JSON).map((text) => new RawJson(text)) },
  { weight: 1, arbitrary: fc.integer() },
);

/** An object with an own `__proto__` key (as JSON.parse makes one), which a literal would not have. */
export function withOwnKey(key: string, value: unknown, rest: Record<string, unknown> = {}) {
  const object: Record<string, unknown> = { ...rest };
  Object.defineProperty(object, key, { value, enumerable: true, configurable: true, writable: true });
  return object;
}

/** Any JSON value, nested a few levels, with hostile keys and scalars. */
export const hostileValue: fc.Arbitrary<unknown> = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    hostileScalar,
    fc.array(tie('value'), { maxLength: 4 }),
    fc
      .array(
        fc.tuple(
          fc.oneof(
            { weight: 3, arbitrary: fc.string({ maxLength: 8 }) },
            { weight: 1, arbitrary: fc.constantFrom('__proto__', 'constructor', 'prototype', 'toString') },
          ),
          tie('value'),
        ),
        { maxLength: 4 },
      )
      .map((pairs) => pairs.reduce<Record<string, unknown>>((o, [k, v]) => withOwnKey(k, v, o), {})),
  ),
})).value;

/**
 * JSON text for a value: `RawJson` pieces are written as they are, objects by their own
 * enumerable keys (so an own `__proto__` key is kept), strings as JSON.stringify writes them (a
 * lone surrogate as a `\udXXX` escape, which JSON.parse turns back into one).
 */
export function jsonText(value: unknown): string {
  if (value instanceof RawJson) return value.text;
  if (Array.isArray(value)) return `[${value.map(jsonText).join(',')}]`;
  if (typeof value === 'object' && value !== null)
    return `{${Object.entries(value)
      .map(([k, v]) => `${JSON.stringify(k)}:${jsonText(v)}`)
      .join(',')}}`;
  if (value === undefined) return 'null';
  if (typeof value === 'number' && !Number.isFinite(value)) return String(value);
  return JSON.stringify(value);
}

/** How deeply a JSON text nests objects and arrays (strings skipped), without parsing it. */
export function nestingDepth(text: string): number {
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === '{' || c === '[') max = Math.max(max, ++depth);
    else if (c === '}' || c === ']') depth--;
  }
  return max;
}
