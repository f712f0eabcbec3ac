import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { partitionOf } from '../../pipeline/core/partition.ts';

/** Reference FNV-1a 32 over Node's own UTF-8 encoding. */
function reference(userId: string, partitions: number): number {
  let hash = 0x811c9dc5;
  for (const byte of Buffer.from(userId, 'utf8')) {
    hash ^= byte;
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash % partitions;
}

describe('partitionOf', () => {
  it('matches published FNV-1a 32 test vectors', () => {
    // FNV-1a 32: "" → 0x811c9dc5, "a" → 0xe40c292c, "foobar" → 0xbf9cf968.
    expect(partitionOf('', 2 ** 32)).toBe(0x811c9dc5);
    expect(partitionOf('a', 2 ** 32)).toBe(0xe40c292c);
    expect(partitionOf('foobar', 2 ** 32)).toBe(0xbf9cf968);
  });

  it('hashes the UTF-8 bytes, as producers in other languages will (a lone surrogate as U+FFFD)', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.string({ unit: 'grapheme' }), fc.string({ unit: 'binary' })),
        fc.integer({ min: 1, max: 1024 }),
        (id, partitions) => {
          expect(partitionOf(id, partitions)).toBe(reference(id, partitions));
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('spreads ordinary ids evenly', () => {
    const counts = new Array<number>(8).fill(0);
    for (let i = 0; i < 80_000; i++) {
      const partition = partitionOf(`user-${i}`, 8);
      counts[partition] = (counts[partition] ?? 0) + 1;
    }
    for (const count of counts) expect(count).toBeGreaterThan(9_000);
  });
});
