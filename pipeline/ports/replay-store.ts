import type { PositionedDecision } from './decision-sink.ts';

export type ReplayKind = 'replay' | 'sweep';
export type ReplayStatus = 'running' | 'done' | 'failed';

/** A replay's record: what was asked, how far it is, and what it found. */
export type ReplayRecord = {
  readonly replay_id: string;
  readonly kind: ReplayKind;
  readonly params: unknown;
  readonly status: ReplayStatus;
  readonly entries_done: number;
  readonly entries_total: number;
  readonly report: unknown;
  readonly error: string | null;
  readonly created_at: number;
  readonly updated_at: number;
};

/**
 * Where replays and their decisions are kept, to be asked for later and queried like the live
 * decisions. Contract: `save` replaces the record of its id (the last saved is the one read);
 * decisions inserted again under one id are visible once.
 */
export type ReplayStore = {
  save(record: Omit<ReplayRecord, 'updated_at'>): Promise<void>;
  get(replayId: string): Promise<ReplayRecord | undefined>;
  insertDecisions(replayId: string, decisions: readonly PositionedDecision[]): Promise<void>;
};
