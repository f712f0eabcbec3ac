import type { CompiledCaps } from './caps.ts';
import type { Channel } from './message-schema.ts';
import type { FlatObject } from './scalar.ts';

/** Sends of one message to one user. */
export type SendRecord = { readonly count: number; readonly last_at: number };
/** A send that can still count toward a global cap. */
export type RecentSend = { readonly at: number; readonly channel: Channel };

/**
 * Everything the core remembers about one user: plain data (JSON in, JSON out) so the pipeline
 * can persist it. It changes only by sends and `identify` entries, so it is a fold over those.
 */
export type UserState = {
  readonly attributes: FlatObject;
  /** Keyed by message id. */
  readonly messages: Readonly<Record<string, SendRecord>>;
  /** Sends of messages that count toward global caps, oldest decided first; kept only while a cap can still count them. */
  readonly recent: readonly RecentSend[];
};

export const EMPTY_USER_STATE: UserState = Object.freeze({
  attributes: Object.freeze({}),
  messages: Object.freeze({}),
  recent: Object.freeze([]),
});

/**
 * The state after the sends decided for one entry (all at `at`): each message's count and last
 * send, and the sends a global cap can still count, older ones dropped. The state given is
 * returned as it is when there was no send.
 */
export function applySends(
  state: UserState,
  at: number,
  sent: readonly SentMessage[],
  caps: CompiledCaps,
): UserState {
  if (sent.length === 0) return state;
  const messages: Record<string, SendRecord> = { ...state.messages };
  const recent = state.recent.filter((send) => send.at > at - caps.horizon[send.channel]);
  for (const message of sent) {
    const previous = Object.hasOwn(messages, message.id) ? messages[message.id] : undefined;
    messages[message.id] = { count: (previous?.count ?? 0) + 1, last_at: at };
    if (message.counts_toward_caps && caps.horizon[message.channel] > 0)
      recent.push({ at, channel: message.channel });
  }
  return { attributes: state.attributes, messages, recent };
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
