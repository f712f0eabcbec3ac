import type { Decision } from '../core/decision.ts';

/** A decision with where its entry sits in the log. */
export type PositionedDecision = {
  readonly decision: Decision;
  readonly partition: number;
  readonly seq: number;
  /** The catalog sequence of the global caps it was decided with (0 or absent: none), so replay uses them too. */
  readonly caps_version?: number;
};

/**
 * Where decisions go before a batch is committed (a durable stream, for the audit writers and
 * the senders). Contract: `publish` resolves only once every decision is durable; publishing a
 * decision again (same `decision_id`, after a crash) never makes a second one visible downstream.
 */
export type DecisionSink = {
  publish(decisions: readonly PositionedDecision[]): Promise<void>;
};
