import { setTimeout as sleep } from 'node:timers/promises';
import type { LogEntry } from '../core/log-entry.ts';
import type { CatalogMark, RecordedEntries } from '../ports/catalog-rebuild.ts';

export type CatalogRebuilderOptions = {
  readonly mark: CatalogMark;
  readonly recorded: RecordedEntries;
  /** Records a batch in every catalog (idempotent, in any order: the audit writer records the same entries). */
  readonly record: (entries: readonly LogEntry[]) => Promise<void>;
  /** Who rebuilds: the process's holder name. */
  readonly holder: string;
  readonly now: () => number;
  readonly report: (line: string) => void;
  /** How often the mark is looked at (default 10 s). */
  readonly everyMs?: number;
  /** A claim not renewed this long lapses, and another process rebuilds (default 60 s). */
  readonly claimMs?: number;
};

/**
 * Rebuilds the catalogs that live beside the states (the event catalog's keys and the attribute
 * catalog: which keys, of which types, on how many users) from the audit's recorded entries, when
 * their mark is missing: on a namespace's first start, and after a store lost them (a Redis wiped,
 * or failed over to a replica that never had them; issue #21). The audit writer keeps recording
 * new entries meanwhile; every write is idempotent and order-free but for the attribute bound
 * (`ATTRIBUTE_KEYS_KEPT`), and the entries come oldest first, so the keys kept are the first seen,
 * as they were.
 */
export class CatalogRebuilder {
  private lastLook = -Infinity;

  constructor(private readonly options: CatalogRebuilderOptions) {}

  /** Entries recorded again (0 when the catalogs are whole, or another process rebuilds them). */
  async step(): Promise<number> {
    const { mark, recorded, record, holder, now, report, everyMs = 10_000, claimMs = 60_000 } = this.options;
    const wait = this.lastLook + everyMs - now();
    if (wait > 0) {
      // A second at a time: the process stops between steps.
      await sleep(Math.min(wait, 1_000));
      return 0;
    }
    this.lastLook = now();
    if ((await mark.claim(holder, claimMs)) !== 'claimed') return 0;
    const until = now();
    report(
      `the catalogs are missing: rebuilding them from the entries recorded before ${new Date(until).toISOString()}`,
    );
    let entries = 0;
    for await (const batch of recorded(until)) {
      await record(batch);
      entries += batch.length;
      if (!(await mark.renew(holder, claimMs))) {
        // Lost with the store, or lapsed: what was recorded may be gone; the next look starts over.
        report(`the catalogs' rebuild lost its claim after ${entries} entries; starting over`);
        return entries;
      }
    }
    if (await mark.done(holder)) report(`the catalogs rebuilt from ${entries} entries`);
    else report(`the catalogs' rebuild lost its claim at its end (${entries} entries); starting over`);
    return entries;
  }
}
