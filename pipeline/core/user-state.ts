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

/** The state after a send: the message's count and last send, and the send among the recent ones when a cap counts it. */
export function applySend(
  state: UserState,
  send: {
    readonly message_id: string;
    readonly channel: Channel;
    readonly at: number;
    readonly counts_toward_caps: boolean;
  },
  previous: SendRecord | undefined,
  caps: CompiledCaps,
): UserState {
  const messages = {
    ...state.messages,
    [send.message_id]: { count: (previous?.count ?? 0) + 1, last_at: send.at },
  };
  const horizon = caps.horizon[send.channel];
  if (!send.counts_toward_caps || horizon === 0) return { ...state, messages };
  const kept = state.recent.filter((recent) => recent.at > send.at - caps.horizon[recent.channel]);
  return { ...state, messages, recent: [...kept, { at: send.at, channel: send.channel }] };
}

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
