import type { LogEntry } from './core/log-entry.ts';
import { isArrayIndex, keysInSentOrder, sentOrderOf, setSentOrder } from './core/key-order.ts';

/**
 * JSON read and written with the keys of objects in the order sent, for the rare entry whose
 * order JavaScript changes (`core/key-order.ts`): more than 20 metadata keys, one integer-like.
 * Everything else goes through `JSON.parse` and `JSON.stringify` as it always did; these run only
 * once a cheap check on the parsed value (`needsSentOrder`) found the rare case.
 */

/** Where a value sits in a JSON document: object keys and array places. */
export type JsonPath = readonly (string | number)[];

/**
 * The value of `text`, as `JSON.parse` gives it (the last of repeated keys wins, `__proto__` is a
 * key like any other), every object with an integer-like key carrying the order its keys were
 * sent in (a repeated key at its first place, as `JSON.parse` keeps it). Throws a `SyntaxError`
 * on text that is not JSON; callers give it text `JSON.parse` already read. Iterative, so a text
 * nested as deep as `JSON.parse` takes is read without running out of stack.
 */
export function parseInSentOrder(text: string): unknown {
  return new Reader(text).document();
}

/** The value at `path` of a parsed document, or undefined when there is none. */
export function valueAt(value: unknown, path: JsonPath): unknown {
  let at = value;
  for (const step of path) {
    if (typeof step === 'number') at = Array.isArray(at) ? (at[step] as unknown) : undefined;
    else if (isObject(at) && Object.hasOwn(at, step)) at = (at as Record<string, unknown>)[step];
    else return undefined;
  }
  return at;
}

/**
 * Attaches to `object` the order of the keys of the object at `path` of `sent` (a document read by
 * `parseInSentOrder`, or a thunk giving it, so a request reads its body once however many entries
 * need it). False, leaving `object` in JavaScript's order, when the two do not hold the same keys.
 */
export function orderLike(object: object, sent: unknown, path: JsonPath): boolean {
  if (sentOrderOf(object) !== undefined) return true;
  const document = typeof sent === 'function' ? (sent as () => unknown)() : sent;
  const source = valueAt(document, path);
  return isObject(source) && setSentOrder(object, keysInSentOrder(source));
}

/** `orderLike` with the document read from `text`; false when `text` is not JSON. */
export function orderFromText(object: object, text: string, path: JsonPath): boolean {
  let document: unknown;
  try {
    document = parseInSentOrder(text);
  } catch {
    return false;
  }
  return orderLike(object, document, path);
}

/** A thunk of `parseInSentOrder(text)`, read at most once, undefined when `text` is not JSON. */
export function lazilyInSentOrder(text: string): () => unknown {
  let read = false;
  let document: unknown;
  return () => {
    if (!read) {
      read = true;
      try {
        document = parseInSentOrder(text);
      } catch {
        document = undefined;
      }
    }
    return document;
  };
}

/** `JSON.stringify` of a flat object of scalars, its keys in the order sent when it carries one. */
export function flatJson(flat: object): string {
  const order = sentOrderOf(flat);
  if (order === undefined) return JSON.stringify(flat);
  const members: string[] = [];
  for (const key of order) {
    const json = JSON.stringify((flat as Record<string, unknown>)[key]) as string | undefined;
    if (json !== undefined) members.push(`${JSON.stringify(key)}:${json}`);
  }
  return `{${members.join(',')}}`;
}

/**
 * A log line: `JSON.stringify(entry)`, except that metadata carrying its sent order is written in
 * that order, so that whoever reads the line (the matcher, a replay of the log or of a file written
 * from it, the audit) finds the same first 20 keys.
 */
export function entryJson(entry: LogEntry): string {
  if (entry.type !== 'track' || entry.metadata === undefined || sentOrderOf(entry.metadata) === undefined)
    return JSON.stringify(entry);
  const members: string[] = [];
  for (const [key, value] of Object.entries(entry)) {
    const json =
      key === 'metadata' ? flatJson(entry.metadata) : (JSON.stringify(value) as string | undefined);
    if (json !== undefined) members.push(`${JSON.stringify(key)}:${json}`);
  }
  return `{${members.join(',')}}`;
}

const isObject = (value: unknown): value is object =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

type ObjectFrame = {
  readonly object: Record<string, unknown>;
  readonly keys: string[];
  key: string;
  integerLike: boolean;
};
type Frame = ObjectFrame | unknown[];

const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;
const COMMA = 0x2c;
const COLON = 0x3a;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
const SPACE = /[ \t\n\r]*/y;

/** A JSON reader that keeps the order of keys: strings and numbers are read by `JSON.parse` and `Number`. */
class Reader {
  private at = 0;

  constructor(private readonly text: string) {}

  document(): unknown {
    const stack: Frame[] = [];
    for (;;) {
      let value = this.open(stack);
      if (value === OPENED) continue;
      // A value is complete: put it in its container, and close every container it completes.
      for (;;) {
        const top = stack.at(-1);
        if (top === undefined) {
          this.space();
          if (this.at !== this.text.length) this.fail();
          return value;
        }
        if (Array.isArray(top)) top.push(value);
        else define(top, value);
        this.space();
        const next = this.text.charCodeAt(this.at++);
        if (next === COMMA) {
          if (!Array.isArray(top)) top.key = this.key();
          break;
        }
        if (next !== (Array.isArray(top) ? CLOSE_ARRAY : CLOSE_OBJECT)) this.fail();
        stack.pop();
        value = Array.isArray(top) ? top : finish(top);
      }
    }
  }

  /** Reads a scalar, an empty container, or opens a container (pushed on `stack`: `OPENED`). */
  private open(stack: Frame[]): unknown {
    this.space();
    const code = this.text.charCodeAt(this.at);
    if (code === OPEN_OBJECT) {
      this.at++;
      this.space();
      if (this.text.charCodeAt(this.at) === CLOSE_OBJECT) {
        this.at++;
        return {};
      }
      stack.push({ object: {}, keys: [], key: this.key(), integerLike: false });
      return OPENED;
    }
    if (code === OPEN_ARRAY) {
      this.at++;
      this.space();
      if (this.text.charCodeAt(this.at) === CLOSE_ARRAY) {
        this.at++;
        return [];
      }
      stack.push([]);
      return OPENED;
    }
    if (code === QUOTE) return this.string();
    for (const [word, value] of LITERALS)
      if (this.text.startsWith(word, this.at)) {
        this.at += word.length;
        return value;
      }
    NUMBER.lastIndex = this.at;
    const number = NUMBER.exec(this.text);
    if (number === null) this.fail();
    this.at += number[0].length;
    return Number(number[0]);
  }

  /** A key and its colon. */
  private key(): string {
    this.space();
    if (this.text.charCodeAt(this.at) !== QUOTE) this.fail();
    const key = this.string();
    this.space();
    if (this.text.charCodeAt(this.at++) !== COLON) this.fail();
    return key;
  }

  private string(): string {
    const start = this.at;
    let escaped = false;
    for (let i = start + 1; i < this.text.length; i++) {
      const code = this.text.charCodeAt(i);
      if (code === BACKSLASH) {
        escaped = true;
        i++;
      } else if (code === QUOTE) {
        this.at = i + 1;
        return escaped
          ? (JSON.parse(this.text.slice(start, i + 1)) as string)
          : this.text.slice(start + 1, i);
      }
    }
    return this.fail();
  }

  private space(): void {
    SPACE.lastIndex = this.at;
    SPACE.exec(this.text);
    this.at = SPACE.lastIndex;
  }

  private fail(): never {
    throw new SyntaxError(`not JSON at character ${this.at}`);
  }
}

const OPENED = Symbol('opened');
const LITERALS: readonly (readonly [string, unknown])[] = [
  ['true', true],
  ['false', false],
  ['null', null],
];

/** Sets a member as `JSON.parse` does: a data property (`__proto__` too), a repeated key at its first place. */
function define(frame: ObjectFrame, value: unknown): void {
  const { object, key } = frame;
  if (!Object.hasOwn(object, key)) {
    frame.keys.push(key);
    if (!frame.integerLike && isArrayIndex(key)) frame.integerLike = true;
  }
  if (key === '__proto__')
    Object.defineProperty(object, key, { value, enumerable: true, writable: true, configurable: true });
  else object[key] = value;
}

function finish(frame: ObjectFrame): Record<string, unknown> {
  if (frame.integerLike) setSentOrder(frame.object, frame.keys);
  return frame.object;
}
