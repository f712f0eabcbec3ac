import { createHash } from 'node:crypto';

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

const encoder = new TextEncoder();

/** A message body of NDJSON lines, one per line, in order. */
export const encodeLines = (lines: readonly Line[]): Uint8Array =>
  encoder.encode(lines.map((line) => line.text).join('\n'));

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
