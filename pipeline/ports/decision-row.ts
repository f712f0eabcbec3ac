import type { Decision } from '../core/decision.ts';
import { explain } from '../core/explain.ts';
import type { PositionedDecision } from './decision-sink.ts';

/** Where an entry sits in the log: its partition and its sequence there. */
export type LogPosition = { readonly partition: number; readonly seq: number };

/**
 * A `decisions` row (see `AUDIT_TABLES` for what each column holds), with the explanation both as
 * a sentence and as data. It is also the line the decisions stream carries (DESIGN §5, README
 * "A decision travels as its row"): the matcher, which holds the decision, writes it once, and
 * the audit stores the line as it came, neither parsed nor written again.
 */
export function decisionRow(decision: Decision, position: LogPosition, capsVersion = 0) {
  return {
    decision_id: decision.decision_id,
    entry_id: decision.entry_id,
    message_id: decision.message_id,
    message_version: decision.message_version,
    user_id: decision.user_id,
    channel: decision.channel,
    at: decision.at,
    outcome: decision.outcome,
    reason: decision.reason,
    subject: decision.content?.subject ?? null,
    body: decision.content?.body ?? null,
    explanation: explain(decision),
    explanation_data: JSON.stringify(decision.explanation),
    partition: position.partition,
    seq: position.seq,
    caps_version: capsVersion,
    deliver_at: decision.outcome === 'sent' ? (decision.deliver_at ?? null) : null,
  };
}

export type DecisionRow = ReturnType<typeof decisionRow>;

/**
 * The positioned decision a row holds: `decisionRow` undone, with the core's key order (the
 * sentence is dropped: it is made from the rest).
 */
export function positionedDecisionOf(row: DecisionRow): PositionedDecision {
  const held = row.outcome === 'sent' && row.deliver_at !== null ? { deliver_at: row.deliver_at } : {};
  const decision = {
    decision_id: row.decision_id,
    entry_id: row.entry_id,
    message_id: row.message_id,
    message_version: row.message_version,
    user_id: row.user_id,
    channel: row.channel,
    at: row.at,
    ...held,
    outcome: row.outcome,
    reason: row.reason,
    content: row.body === null ? null : { subject: row.subject, body: row.body },
    explanation: JSON.parse(row.explanation_data) as unknown,
  } as Decision;
  const caps = row.caps_version === 0 ? {} : { caps_version: row.caps_version };
  return { decision, partition: row.partition, seq: row.seq, ...caps };
}
