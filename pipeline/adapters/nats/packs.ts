import { createHash } from 'node:crypto';
import type { LogEntry } from '../../core/log-entry.ts';
import { isWellFormedEntry } from '../../core/log-entry.ts';
import { InputError } from '../../errors.ts';
import { entryJson } from '../../json-in-sent-order.ts';
import { parseEntry, withMetadataInSentOrder } from '../../parse-entry.ts';
import { DEAD_LETTER_LINE_CHARS } from '../../ports/dead-letters.ts';
import type { MalformedLine } from '../../ports/log-source.ts';

/**
 * The codec of the message bodies of every stream (DESIGN §5): a pack is NDJSON, one JSON value
 * per line, in order, without a trailing newline (the log's entries, the decisions), and a
 * message of one value is a pack of one line (a dead letter, a delivery, a catalog version).
 * Decoding skips blank lines; "line n" counts the lines that are not blank.
 */

/** Lines per JetStream message, at most. */
export const PACK_SIZE = 100;
/**
 * Bytes of a message's lines, at most: half nats-server's default `max_payload` (1 MiB), leaving
 * room for headers and for a server configured lower than the default.
 */
export const PACK_BYTES = 512 * 1024;

/**
 * One NDJSON line of a pack: its text, and at most how many bytes it is in UTF-8 (three per
 * UTF-16 unit: measuring every line exactly was a tenth of a batch's cost, and packs of typical
 * entries are far below the limit either way).
 */
export type Line = { readonly text: string; readonly bytes: number };

export const lineOf = (value: unknown): Line => {
  const text = JSON.stringify(value);
  return { text, bytes: text.length * 3 };
};

/** A log entry's line: its metadata in the order sent where JavaScript's would differ (`entryJson`). */
export const entryLineOf = (entry: LogEntry): Line => {
  const text = entryJson(entry);
  return { text, bytes: text.length * 3 };
};

const encoder = new TextEncoder();
const utf8 = new TextDecoder('utf-8', { fatal: true });
/** For a body that is not UTF-8: what a dead letter shows of it. */
const lenientUtf8 = new TextDecoder();

/** A message body of NDJSON lines, one per line, in order. */
export const encodeLines = (lines: readonly Line[]): Uint8Array =>
  encoder.encode(lines.map((line) => line.text).join('\n'));

/** A message body of one JSON value: a pack of one line. */
export const encodeValue = (value: unknown): Uint8Array => encoder.encode(JSON.stringify(value));

/**
 * The value of a message of one JSON value, as its publishers here write it (`encodeValue`):
 * a body that is not JSON throws the `SyntaxError` of `JSON.parse`.
 */
export const decodeValue = (body: Uint8Array): unknown => JSON.parse(lenientUtf8.decode(body));

/** Reads one line of a pack (`where` names it, built only on error), or throws `InputError`. */
export type LineParser<T> = (line: string, where: () => string) => T;

/** The lines of a body that are not blank, or the error of a body that is not UTF-8. */
function linesOf(body: Uint8Array): string[] | Error {
  try {
    return utf8
      .decode(body)
      .split('\n')
      .filter((line) => line !== '');
  } catch (error) {
    return error as Error;
  }
}

/** The values of a pack, each read by `parse`; a body that is not UTF-8 or a bad line throws `InputError` naming it. */
export function decodeLines<T>(body: Uint8Array, where: string, parse: LineParser<T>): T[] {
  const lines = linesOf(body);
  if (!Array.isArray(lines)) throw new InputError(where, ['the body is not UTF-8'], { cause: lines });
  return lines.map((line, i) => parse(line, () => `${where} line ${i + 1}`));
}

/**
 * The values of a pack, each read by `parse`, a line it refuses (`InputError`) set aside with its
 * problem rather than thrown; a body that is not UTF-8 is one such line.
 */
export function decodeLinesLeniently<T>(
  body: Uint8Array,
  where: string,
  parse: LineParser<T>,
): { values: T[]; malformed: MalformedLine[] } {
  const lines = linesOf(body);
  if (!Array.isArray(lines)) {
    const line = lenientUtf8.decode(body.subarray(0, DEAD_LETTER_LINE_CHARS));
    return { values: [], malformed: [{ index: 0, line, problem: `${where}: the body is not UTF-8` }] };
  }
  const values: T[] = [];
  const malformed: MalformedLine[] = [];
  lines.forEach((line, index) => {
    try {
      values.push(parse(line, () => `${where} line ${index + 1}`));
    } catch (error) {
      if (!(error instanceof InputError)) throw error;
      malformed.push({ index, line: line.slice(0, DEAD_LETTER_LINE_CHARS), problem: error.message });
    }
  });
  return { values, malformed };
}

/**
 * The lines of a pack as bytes, blank ones skipped, each a view into `body` (nothing copied or
 * decoded): for a reader that passes lines on as they came (the decisions' audit rows).
 */
export function rawLinesOf(body: Uint8Array): Uint8Array[] {
  const lines: Uint8Array[] = [];
  let start = 0;
  while (start < body.length) {
    const end = body.indexOf(NEWLINE, start);
    const stop = end === -1 ? body.length : end;
    if (stop > start) lines.push(body.subarray(start, stop));
    start = stop + 1;
  }
  return lines;
}

const NEWLINE = 0x0a;

/**
 * The log's message body: one or more entries of one partition, one per line, in log order.
 * JetStream acknowledges per message, so entries are packed (DESIGN §5: about 24k messages/s one
 * entry each against 380k entries/s packed 100 to a message on our machines).
 */
export const encodePack = (entries: readonly LogEntry[]): Uint8Array => encodeLines(entries.map(entryLineOf));

/** The entries of one log message, each checked against the contract; a bad one names its line. */
export const decodePack = (body: Uint8Array, where: string): LogEntry[] =>
  decodeLines(body, where, parseEntry);

/**
 * The entries of one log message as a reader of the live log takes them: a line that breaks the
 * contract (a producer publishing straight to the log can send one) is set aside with its problem
 * rather than thrown, so it never blocks its partition; the matcher dead-letters it.
 */
export function decodePackLeniently(
  body: Uint8Array,
  where: string,
): { entries: LogEntry[]; malformed: MalformedLine[] } {
  const { values, malformed } = decodeLinesLeniently(body, where, parseEntry);
  return { entries: values, malformed };
}

/**
 * The entries of one log message for a reader that trusts the log's format, the audit writer:
 * the matcher dead-letters every line that breaks the contract, so a line the fast check
 * (`isWellFormedEntry`) refuses is skipped without a word, with no zod and no message built; so is
 * a body that is not UTF-8, and a line that is not JSON.
 */
export function decodeTrustedPack(body: Uint8Array): LogEntry[] {
  const lines = linesOf(body);
  if (!Array.isArray(lines)) return [];
  const entries: LogEntry[] = [];
  for (const line of lines) {
    const json = parseOrUndefined(line);
    if (isWellFormedEntry(json)) entries.push(withMetadataInSentOrder(json, line));
  }
  return entries;
}

function parseOrUndefined(line: string): unknown {
  try {
    return JSON.parse(line);
  } catch {
    return undefined;
  }
}

/**
 * Cuts items, in order, into packs of at most `PACK_SIZE` and at most `PACK_BYTES` of lines (with
 * their newlines): JetStream acknowledges per message, so many lines share one, but a message
 * over the server's `max_payload` is refused whole. An item larger than `PACK_BYTES` is a pack of
 * its own (the API refuses entries that large, so only other producers can send one).
 */
export function cutPacks<T>(items: readonly T[], bytesOf: (item: T) => number): T[][] {
  const packs: T[][] = [];
  let pack: T[] = [];
  let bytes = 0;
  for (const item of items) {
    const size = bytesOf(item) + 1;
    if (pack.length > 0 && (pack.length === PACK_SIZE || bytes + size > PACK_BYTES)) {
      packs.push(pack);
      pack = [];
      bytes = 0;
    }
    pack.push(item);
    bytes += size;
  }
  if (pack.length > 0) packs.push(pack);
  return packs;
}

/**
 * A message's `Nats-Msg-Id`: `prefix:` and the SHA-256 (base64url) of its parts, each as its
 * length in UTF-16 units, `:` (UTF-8) and itself in UTF-16LE, so no two lists of parts read as one (joined by newlines, `["a\nb", "c"]`
 * and `["a", "b\nc"]` did, and JetStream dropped the second as a duplicate). A digest rather than
 * the parts themselves: a header value cannot hold CR or LF, and NATS trims and re-encodes what it
 * keeps, so distinct ids (`"dd"` and `"dd "`) would collide.
 */
export function packId(prefix: string, parts: readonly string[]): string {
  const hash = createHash('sha256');
  for (const part of parts) {
    hash.update(`${part.length}:`);
    // UTF-16 as the string holds it: UTF-8 would turn every lone surrogate into U+FFFD, and ids
    // differing only there would collide.
    hash.update(Buffer.from(part, 'utf16le'));
  }
  return `${prefix}:${hash.digest('base64url')}`;
}
