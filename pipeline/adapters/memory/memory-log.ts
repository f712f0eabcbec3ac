import type { LogEntry } from '../../core/log-entry.ts';
import type { LogMessage, LogSource } from '../../ports/log-source.ts';

type Stored = { readonly seq: number; readonly entries: readonly LogEntry[]; acked: boolean };

/**
 * A partitioned log in memory, for tests and simulations, with JetStream's delivery contract:
 * a fetched message not acked is delivered again by the next fetch, in order.
 */
export class MemoryLog implements LogSource {
  private readonly partitions = new Map<number, Stored[]>();
  private nextSeq = 1;

  append(partition: number, entries: readonly LogEntry[]): number {
    const seq = this.nextSeq++;
    const list = this.partitions.get(partition) ?? [];
    list.push({ seq, entries, acked: false });
    this.partitions.set(partition, list);
    return seq;
  }

  fetch(partition: number, max: number): Promise<readonly LogMessage[]> {
    const pending = (this.partitions.get(partition) ?? []).filter((m) => !m.acked).slice(0, max);
    return Promise.resolve(
      pending.map((stored) => ({
        seq: stored.seq,
        entries: stored.entries,
        ack: () => {
          stored.acked = true;
        },
        nak: () => undefined,
      })),
    );
  }

  unacked(partition: number): number {
    return (this.partitions.get(partition) ?? []).filter((m) => !m.acked).length;
  }
}
