import type { LogEntry } from '../../core/log-entry.ts';
import type { LogMessage, LogSource, MalformedLine } from '../../ports/log-source.ts';

/** A partitioned log in memory, for tests and simulations. Sequences grow across the whole log, as in one stream. */
export class MemoryLog implements LogSource {
  private readonly partitions = new Map<number, LogMessage[]>();
  private nextSeq = 1;

  append(partition: number, entries: readonly LogEntry[], malformed?: readonly MalformedLine[]): number {
    const seq = this.nextSeq++;
    const list = this.partitions.get(partition) ?? [];
    list.push(malformed === undefined ? { seq, entries } : { seq, entries, malformed });
    this.partitions.set(partition, list);
    return seq;
  }

  read(partition: number, after: number, max: number): Promise<readonly LogMessage[]> {
    return Promise.resolve((this.partitions.get(partition) ?? []).filter((m) => m.seq > after).slice(0, max));
  }

  /** The last sequence of a partition (0 when empty). */
  lastSeq(partition: number): number {
    return this.partitions.get(partition)?.at(-1)?.seq ?? 0;
  }
}
