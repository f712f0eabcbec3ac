import type { ClickHouseClient } from '@clickhouse/client';
import { setTimeout as sleep } from 'node:timers/promises';
import { dayPartitions, isClean } from './day-parts.ts';
import { ident, sql } from './sql.ts';

export type CompactorOptions = {
  /** A past day is merged once nothing was written to it for this long. */
  readonly quietMs?: number;
  /** Today (UTC), which takes inserts all day, only after this long without one. */
  readonly todayQuietMs?: number;
  /** How often to look. */
  readonly everyMs?: number;
  readonly now?: () => number;
};

/**
 * Keeps the day partitions of `decision_facts` clean (one merged part, see `isClean`) so that
 * analytics read them without `FINAL`: a day with new parts is merged with `OPTIMIZE … FINAL`
 * once it has been quiet for a while, one day a step, oldest first. Today's partition takes
 * inserts all the time and is read with `FINAL` meanwhile; it is merged only after a long quiet.
 */
export class FactsCompactor {
  private lastLook = -Infinity;

  constructor(
    private readonly client: ClickHouseClient,
    private readonly database: string,
    private readonly options: CompactorOptions = {},
  ) {}

  /** Merges one day that needs it, if any is due; returns how many it merged (0 or 1). */
  async step(): Promise<number> {
    const { quietMs = 60_000, todayQuietMs = 600_000, everyMs = 10_000, now = Date.now } = this.options;
    const wait = this.lastLook + everyMs - now();
    if (wait > 0) {
      // A second at a time: the process stops between steps, and should not wait ten seconds for it.
      await sleep(Math.min(wait, 1_000));
      return 0;
    }
    this.lastLook = now();
    const today = new Date(this.lastLook).toISOString().slice(0, 10);
    const due = (await dayPartitions(this.client, this.database, 'decision_facts')).find(
      (partition) =>
        !isClean(partition) &&
        this.lastLook - partition.modified_at >= (partition.day === today ? todayQuietMs : quietMs),
    );
    if (due === undefined) return 0;
    await this.client.command({
      query: sql`OPTIMIZE TABLE ${ident(this.database)}.decision_facts PARTITION ${due.day} FINAL`.text,
    });
    return 1;
  }
}
