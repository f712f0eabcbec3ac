/**
 * The log partition of a user (DESIGN §2): a stable hash of `user_id` modulo the partition count,
 * so each user's entries stay in order and one matcher owns each user's state. The hash is
 * 32-bit FNV-1a over the UTF-8 bytes of the id, simple enough for a producer in any language to
 * compute the same partition and publish to it directly.
 */
export function partitionOf(userId: string, partitions: number): number {
  let hash = 0x811c9dc5;
  // The UTF-8 bytes of each code point, written out by hand (no `TextEncoder`: the core does
  // without platform APIs; and no generator: the API hashes every entry it takes). A lone
  // surrogate is U+FFFD, as every UTF-8 encoder writes it.
  for (let i = 0; i < userId.length; i++) {
    let code = userId.charCodeAt(i);
    if (code < 0x80) {
      hash = Math.imul(hash ^ code, 0x01000193);
      continue;
    }
    if (code >= 0xd800 && code <= 0xdfff) {
      const low = code <= 0xdbff && i + 1 < userId.length ? userId.charCodeAt(i + 1) : 0;
      if (low >= 0xdc00 && low <= 0xdfff) {
        code = 0x10000 + ((code - 0xd800) << 10) + (low - 0xdc00);
        i++;
      } else code = 0xfffd;
    }
    if (code < 0x800) {
      hash = Math.imul(hash ^ (0xc0 | (code >> 6)), 0x01000193);
    } else if (code < 0x10000) {
      hash = Math.imul(hash ^ (0xe0 | (code >> 12)), 0x01000193);
      hash = Math.imul(hash ^ (0x80 | ((code >> 6) & 0x3f)), 0x01000193);
    } else {
      hash = Math.imul(hash ^ (0xf0 | (code >> 18)), 0x01000193);
      hash = Math.imul(hash ^ (0x80 | ((code >> 12) & 0x3f)), 0x01000193);
      hash = Math.imul(hash ^ (0x80 | ((code >> 6) & 0x3f)), 0x01000193);
    }
    hash = Math.imul(hash ^ (0x80 | (code & 0x3f)), 0x01000193);
  }
  return (hash >>> 0) % partitions;
}
