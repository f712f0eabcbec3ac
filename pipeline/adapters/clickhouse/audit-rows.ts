import type { LogEntry, PreferencesEntry, PushSubscriptionEntry, StateEntry } from '../../core/log-entry.ts';
import { needsSentOrder } from '../../core/log-entry.ts';
import type { FlatObject } from '../../core/scalar.ts';
import { flatJson, orderFromText } from '../../json-in-sent-order.ts';
import type { LogPosition } from '../../ports/decision-row.ts';

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
    // In the order sent, so a replay of recorded traffic uses the same first 20 keys.
    metadata: flatJson(track?.metadata ?? {}),
    context: JSON.stringify(track?.context ?? {}),
    attributes: JSON.stringify(stateFieldsOf(entry)),
  };
}

/** A track's metadata from its `metadata` column, with the order of its keys as sent where JavaScript's would move the usable ones. */
export function metadataOf(column: string): FlatObject {
  const metadata = JSON.parse(column) as FlatObject;
  if (needsSentOrder(metadata)) orderFromText(metadata, column, []);
  return metadata;
}

/**
 * What the `attributes` column holds: an `identify`'s attributes, a `preferences` entry's
 * `{channels, messages}`, a `push_subscription`'s `{action, subscription}`, `{}` for a `track`
 * (one column for the three, so the table and its readers did not change shape).
 */
function stateFieldsOf(entry: LogEntry): object {
  switch (entry.type) {
    case 'track':
      return {};
    case 'identify':
      return entry.attributes;
    case 'preferences':
      return { channels: entry.channels, messages: entry.messages };
    case 'push_subscription':
      return { action: entry.action, subscription: entry.subscription };
  }
}

/** The state entry a `log_entries` row holds, from its `attributes` column (see `stateFieldsOf`). */
export function stateEntryOf(row: {
  readonly type: string;
  readonly entry_id: string;
  readonly user_id: string;
  readonly received_at: number;
  readonly attributes: string;
}): StateEntry {
  const head = { id: row.entry_id, user_id: row.user_id, received_at: row.received_at };
  const fields = JSON.parse(row.attributes) as Record<string, unknown>;
  if (row.type === 'preferences')
    return { type: 'preferences', ...head, ...(fields as Pick<PreferencesEntry, 'channels' | 'messages'>) };
  if (row.type === 'push_subscription')
    return {
      type: 'push_subscription',
      ...head,
      ...(fields as Pick<PushSubscriptionEntry, 'action' | 'subscription'>),
    };
  return { type: 'identify', ...head, attributes: fields as FlatObject };
}
