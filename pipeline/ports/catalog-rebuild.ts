import type { LogEntry } from '../core/log-entry.ts';

/**
 * Whether the catalogs kept beside the states (the event catalog's keys, the attribute catalog)
 * hold everything recorded, and who is rebuilding them when they do not. Kept in the same store as
 * the catalogs, so that a store that loses them loses this mark with them and they are rebuilt.
 * Contract: `claim` answers `built` once `done` succeeded and nothing was lost since; `claimed` to
 * one holder at a time; a claim not renewed within `ttlMs` lapses (its holder died); `renew` and
 * `done` answer false when the claim is no longer the holder's (lapsed, or lost with the store).
 */
export type CatalogMark = {
  claim(holder: string, ttlMs: number): Promise<'built' | 'claimed' | 'busy'>;
  renew(holder: string, ttlMs: number): Promise<boolean>;
  done(holder: string): Promise<boolean>;
};

/** The recorded entries received before `until`, oldest first, in batches: what the catalogs are rebuilt from. */
export type RecordedEntries = (until: number) => AsyncIterable<readonly LogEntry[]>;
