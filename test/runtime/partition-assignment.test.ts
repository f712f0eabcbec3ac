import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { assignedPartitions } from '../../pipeline/runtime/partition-assignment.ts';

describe('assignedPartitions', () => {
  it('one member owns every partition; two split them', () => {
    expect(assignedPartitions(['a'], 'a', 4)).toEqual([0, 1, 2, 3]);
    expect(assignedPartitions(['b', 'a'], 'a', 4)).toEqual([0, 2]);
    expect(assignedPartitions(['b', 'a'], 'b', 4)).toEqual([1, 3]);
    expect(assignedPartitions(['a'], 'stranger', 4)).toEqual([]);
  });

  it('every partition has exactly one owner, whatever the members and their order', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.string({ minLength: 1 }), { minLength: 1, maxLength: 10 }),
        fc.integer({ min: 1, max: 64 }),
        (members, partitions) => {
          const owners = new Map<number, string[]>();
          for (const member of members) {
            for (const p of assignedPartitions([...members].reverse(), member, partitions))
              owners.set(p, [...(owners.get(p) ?? []), member]);
          }
          expect([...owners.keys()].sort((a, b) => a - b)).toEqual(
            Array.from({ length: partitions }, (_, p) => p),
          );
          for (const list of owners.values()) expect(list).toHaveLength(1);
        },
      ),
    );
  });
});
