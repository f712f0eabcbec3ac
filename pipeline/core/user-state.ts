import type { CompiledCaps } from './caps.ts';
import type { Channel } from './message-schema.ts';
import type { FlatObject } from './scalar.ts';

/** Sends of one message to one user. */
export type SendRecord = { readonly message_id: string; readonly count: number; readonly last_at: number };
/** A send that can still count toward a global cap. */
export type RecentSend = { readonly at: number; readonly channel: Channel };

/**
 * Everything the core remembers about one user: plain data (JSON in, JSON out) so the pipeline
 * can persist it. It changes only by sends and `identify` entries, so it is a fold over those.
 */
export type UserState = {
  readonly attributes: FlatObject;
  /**
   * One record per message ever sent to the user, in message id order (code units). A list and
   * not an object keyed by id: every user has a different set of ids, and objects with ever new
   * key sets cost V8 a new hidden class per send (measured: 2.3× the cost of the whole decision).
   */
  readonly messages: readonly SendRecord[];
  /** Sends of messages that count toward global caps, in time order; only those a cap can still count (see `keptForCaps`). */
  readonly recent: readonly RecentSend[];
};

export const EMPTY_USER_STATE: UserState = Object.freeze({
  attributes: Object.freeze({}),
  messages: Object.freeze([]) as readonly SendRecord[],
  recent: Object.freeze([]),
});

/**
 * The state after the sends decided for one entry (all at `at`): each message's count and last
 * send, and the sends a global cap can still count. The state given is returned as it is when
 * there was no send.
 */
export function applySends(
  state: UserState,
  at: number,
  sent: readonly SentMessage[],
  caps: CompiledCaps,
): UserState {
  if (sent.length === 0) return state;
  const messages = state.messages.slice();
  let recent = state.recent;
  for (const message of sent) {
    const i = positionOf(messages, message.id);
    const previous = messages[i];
    if (previous?.message_id === message.id) {
      messages[i] = { message_id: message.id, count: previous.count + 1, last_at: at };
    } else {
      messages.splice(i, 0, { message_id: message.id, count: 1, last_at: at });
    }
    if (message.counts_toward_caps) recent = insertByTime(recent, { at, channel: message.channel });
  }
  return {
    attributes: state.attributes,
    messages,
    recent: recent === state.recent ? recent : keptForCaps(recent, caps),
  };
}

/** A copy with the send placed after every send at or before its time: `recent` stays in time order. */
export function insertByTime(recent: readonly RecentSend[], send: RecentSend): RecentSend[] {
  let i = recent.length;
  while (i > 0 && (recent[i - 1]?.at ?? 0) > send.at) i--;
  return [...recent.slice(0, i), send, ...recent.slice(i)];
}

/**
 * The sends worth keeping: for each cap, the `max` newest it counts, which is all its check and
 * its `eligible_at` need whatever the order entries arrive in (ingest clocks may disagree, so
 * the next entry can be stamped before the last send); and every send within the longest window
 * of a cap on its channel, measured from the newest send, so that a cap widened later still
 * sees the recent past. Memory per user is bounded by the caps, never by the log.
 */
function keptForCaps(recent: readonly RecentSend[], caps: CompiledCaps): RecentSend[] {
  const newest = recent[recent.length - 1]?.at ?? 0;
  const keep = recent.map((send) => send.at > newest - caps.horizon[send.channel]);
  for (const cap of caps.caps) {
    let counted = 0;
    for (let i = recent.length - 1; i >= 0 && counted < cap.max; i--) {
      if (cap.channel !== undefined && recent[i]?.channel !== cap.channel) continue;
      keep[i] = true;
      counted++;
    }
  }
  return recent.filter((_, i) => keep[i]);
}

/** The sends of one message to the user, if any. */
export function sendsOf(messages: readonly SendRecord[], messageId: string): SendRecord | undefined {
  const found = messages[positionOf(messages, messageId)];
  return found?.message_id === messageId ? found : undefined;
}

/** Binary search: the index of the record for `messageId`, or where it would be inserted. */
function positionOf(messages: readonly SendRecord[], messageId: string): number {
  let low = 0;
  let high = messages.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if ((messages[middle]?.message_id ?? '') < messageId) low = middle + 1;
    else high = middle;
  }
  return low;
}

/** What `applySends` needs of a message. */
export type SentMessage = {
  readonly id: string;
  readonly channel: Channel;
  readonly counts_toward_caps: boolean;
};

/** DESIGN §2: attributes are merged; a key set to `null` is removed. */
export function applyAttributes(state: UserState, attributes: FlatObject): UserState {
  const merged = new Map(Object.entries(state.attributes));
  for (const [key, value] of Object.entries(attributes)) {
    if (value === null) merged.delete(key);
    else merged.set(key, value);
  }
  // fromEntries defines own properties, so a key such as "__proto__" stays data.
  return { ...state, attributes: Object.fromEntries(merged) };
}
