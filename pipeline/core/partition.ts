/**
 * The log partition of a user (DESIGN §2): a stable hash of `user_id` modulo the partition count,
 * so each user's entries stay in order and one matcher owns each user's state. The hash is
 * 32-bit FNV-1a over the UTF-8 bytes of the id, simple enough for a producer in any language to
 * compute the same partition and publish to it directly.
 */
export function partitionOf(userId: string, partitions: number): number {
  let hash = 0x811c9dc5;
  for (const byte of utf8(userId)) {
    hash ^= byte;
    hash = Math.imul(hash, 0x01000193);
  }
  return (hash >>> 0) % partitions;
}

/**
 * UTF-8 bytes without `TextEncoder`, which the core does without (no platform APIs). A lone
 * surrogate becomes U+FFFD, as every UTF-8 encoder writes it.
 */
function* utf8(text: string): Generator<number> {
  for (const char of text) {
    const point = char.codePointAt(0) ?? 0;
    const code = point >= 0xd800 && point <= 0xdfff ? 0xfffd : point;
    if (code < 0x80) yield code;
    else if (code < 0x800) yield* [0xc0 | (code >> 6), 0x80 | (code & 0x3f)];
    else if (code < 0x10000) yield* [0xe0 | (code >> 12), 0x80 | ((code >> 6) & 0x3f), 0x80 | (code & 0x3f)];
    else
      yield* [
        0xf0 | (code >> 18),
        0x80 | ((code >> 12) & 0x3f),
        0x80 | ((code >> 6) & 0x3f),
        0x80 | (code & 0x3f),
      ];
  }
}
