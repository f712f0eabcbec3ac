import type { Decision } from '../../core/decision.ts';
import { explain } from '../../core/explain.ts';
import type { LogEntry } from '../../core/log-entry.ts';

/** Where an entry sits in the log: its partition and its sequence there. */
export type LogPosition = { readonly partition: number; readonly seq: number };

/** A `log_entries` row (see `AUDIT_TABLES` for what each column holds); `place` is its index in its log message. */
export function logEntryRow(entry: LogEntry, position: LogPosition, place = 0) {
  const track = entry.type === 'track' ? entry : undefined;
  return {
    entry_id: entry.id,
    type: entry.type,
    user_id: entry.user_id,
    name: track?.name ?? '',
    received_at: entry.received_at,
    created_at: track?.created_at ?? null,
    partition: position.partition,
    seq: position.seq,
    position: place,
    metadata: JSON.stringify(track?.metadata ?? {}),
    context: JSON.stringify(track?.context ?? {}),
    attributes: JSON.stringify(entry.type === 'identify' ? entry.attributes : {}),
  };
}

/** A `decisions` row, with the explanation both as a sentence and as data. */
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
  };
}
