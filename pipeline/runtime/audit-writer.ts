import type { BatchReader } from '../ports/batch-reader.ts';

/**
 * Copies a stream into the audit store (DESIGN §5): a batch is read, stored in one call, and
 * only then acked. While the store is down nothing is acked and the stream is the spool: the
 * batch comes again after `retryMs`, and the backlog drains when the store returns. A batch
 * stored twice (an ack lost after the insert) is collapsed by the store.
 */
export class AuditWriter<T> {
  constructor(
    private readonly reader: BatchReader<T>,
    private readonly store: (items: readonly T[]) => Promise<void>,
    private readonly retryMs = 5_000,
  ) {}

  /** One batch: the number of items stored (0 when there was nothing new). Throws when storing failed. */
  async step(maxMessages = 500): Promise<number> {
    const batch = await this.reader.next(maxMessages);
    if (batch.items.length === 0) {
      batch.ack();
      return 0;
    }
    try {
      await this.store(batch.items);
    } catch (error) {
      batch.nak(this.retryMs);
      throw error;
    }
    batch.ack();
    return batch.items.length;
  }
}
