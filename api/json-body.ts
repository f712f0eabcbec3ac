import { parse as parseTolerantly, printParseErrorCode } from 'jsonc-parser';
import type { ParseError } from 'jsonc-parser';
import secureJson from 'secure-json-parse';
import { ApiError } from './errors.ts';
import { MAX_BODY_DEPTH } from './plugins/nesting-depth.ts';

declare module 'fastify' {
  interface FastifyRequest {
    /**
     * The JSON body's text as read ('' without one), set by the body parsers. Kept, by reference,
     * for the rare entry whose metadata order JavaScript changes (more than 20 keys, one
     * integer-like): only then is it read again, in the order sent (`pipeline/json-in-sent-order.ts`).
     */
    jsonText: string;
  }
}

/**
 * A JSON request body as a value, or a 400 that says where it breaks. `JSON.parse` does the work
 * (the hot path pays nothing more than fastify's own parser did); only a body it refuses is read
 * again, by `jsonc-parser` in strict mode, which reports the offset and kind of the first problem,
 * where V8's messages give a position only sometimes.
 */
export function parseJsonBody(text: string): unknown {
  if (text.trim() === '')
    throw new ApiError(
      'invalid_json',
      'the body is empty: send a JSON object (content-type: application/json)',
    );
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    if (error instanceof RangeError)
      throw new ApiError(
        'invalid_request',
        `the body nests too deep to read: at most ${MAX_BODY_DEPTH} levels of objects and arrays`,
      );
    throw new ApiError('invalid_json', `the body is not valid JSON: ${whereItBreaks(text, error as Error)}`);
  }
  // A "__proto__" key (or "constructor" holding "prototype") could pollute what later reads the value.
  if (text.includes('__proto__') || text.includes('constructor')) {
    try {
      if (typeof value === 'object' && value !== null)
        secureJson.scan(value, { protoAction: 'error', constructorAction: 'error' });
    } catch {
      throw new ApiError(
        'invalid_request',
        'the body has a "__proto__" key, or a "constructor" key holding "prototype": such keys are refused, rename them',
      );
    }
  }
  return value;
}

/** By the names `printParseErrorCode` gives (the codes are a const enum, out of reach of our compiler settings). */
const EXPECTED: Partial<Record<string, string>> = {
  InvalidSymbol: 'expected a value (a "string", a number, true, false, null, {…} or […])',
  InvalidNumberFormat: 'a number is malformed',
  PropertyNameExpected: 'expected a key in double quotes',
  ValueExpected: 'expected a value',
  ColonExpected: "expected ':' after the key",
  CommaExpected: "expected ',' between members, or the end of the object or array",
  CloseBraceExpected: "expected ',' or '}'",
  CloseBracketExpected: "expected ',' or ']'",
  EndOfFileExpected: 'expected the end of the body after one JSON value',
  InvalidCommentToken: 'JSON has no comments',
  UnexpectedEndOfComment: 'JSON has no comments',
  UnexpectedEndOfString: 'a string is not closed',
  UnexpectedEndOfNumber: 'a number ends too early',
  InvalidUnicode: 'a \\u escape needs four hex digits',
  InvalidEscapeCharacter: 'an escape in a string is not one of \\" \\\\ \\/ \\b \\f \\n \\r \\t \\uXXXX',
  InvalidCharacter: 'a control character in a string must be escaped (\\n, \\t, \\u0001…)',
};

/** `at byte 29 (line 2, column 13): expected a key in double quotes, found "}"`. */
export function whereItBreaks(text: string, refusal: Error): string {
  const errors: ParseError[] = [];
  try {
    parseTolerantly(text, errors, {
      disallowComments: true,
      allowTrailingComma: false,
      allowEmptyContent: false,
    });
  } catch {
    // The strict reader recurses: a body nested thousands deep is too deep for it. V8's words, then.
    return refusal.message;
  }
  const first = errors[0];
  if (first === undefined) return refusal.message;
  const before = text.slice(0, first.offset);
  const line = before.split('\n').length;
  const column = first.offset - before.lastIndexOf('\n');
  const place = `at byte ${Buffer.byteLength(before)} (line ${line}, column ${column})`;
  const expected = EXPECTED[printParseErrorCode(first.error)] ?? 'unexpected text';
  if (first.offset >= text.length) return `${place}: the body ends too early, ${expected}`;
  const found = text.slice(first.offset, first.offset + Math.max(first.length, 1)).slice(0, 24);
  return `${place}: ${expected}, found ${JSON.stringify(found)}`;
}
