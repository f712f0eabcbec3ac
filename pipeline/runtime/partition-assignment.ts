/**
 * Which partitions a process should own, from the live members: the members sorted by name, and
 * partition `p` to the member at `p % members.length`. Every process computes the same answer
 * from the same member list, so the partitions split evenly; during a change two processes may
 * both want one, and its lease decides.
 */
export function assignedPartitions(members: readonly string[], self: string, partitions: number): number[] {
  const sorted = [...members].sort();
  const index = sorted.indexOf(self);
  if (index < 0) return [];
  return Array.from({ length: partitions }, (_, p) => p).filter((p) => p % sorted.length === index);
}
