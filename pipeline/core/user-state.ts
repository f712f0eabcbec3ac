import type { AppliedEntries } from './applied-entries.ts';
import { REPEAT_SKEW_MS } from './applied-entries.ts';
import type { CompiledCaps, RecentList } from './caps.ts';
import type { Channel } from './message-schema.ts';
import type { PreferencesEntry, PushSubscription, PushSubscriptionEntry, StateEntry } from './log-entry.ts';
import type { FlatObject } from './scalar.ts';

/** Sends of one message to one user (a view of `UserState.sends`). */
export type SendRecord = { readonly message_id: string; readonly count: number; readonly last_at: number };
/** A send that can still count toward a global cap (a view of `UserState.recent`). */
export type RecentSend = { readonly at: number; readonly channel: Channel };

/** `[message_id, count, last_at]` for every message ever sent to the user, flat, in message id order (code units). */
export type SendsList = readonly (string | number)[];

/**
 * Everything the core remembers about one user: plain data (JSON in, JSON out) so the pipeline
 * can persist it. Its sends and attributes change only by sends and `identify` entries, so they
 * are a fold over those; `applied` holds the ids of the user's latest entries that had an effect
 * (decisions or attributes), so a repeated entry is dropped (`applied-entries.ts`).
 *
 * Sends are flat lists rather than objects: the state of every user lives as long as the
 * process, and each object in it is one more for the garbage collector to trace and copy on
 * every send. Flat lists took the replay from 42% to 52% of the floor's rate on the bench (an
 * object keyed by message id was worse still: every user has a different set of ids, and V8
 * made a hidden class per send). Read them through `sendRecords` and `recentSends`.
 */
export type UserState = {
  readonly attributes: FlatObject;
  readonly sends: SendsList;
  readonly recent: RecentList;
  readonly applied: AppliedEntries;
  /**
   * What the user opted out of (`preferences` entries), sorted: `channel:<channel>` and
   * `message:<message id>`. Absent when none (a state stored before preferences existed has none).
   */
  readonly optouts?: readonly string[] | undefined;
  /** The user's Web Push subscriptions (`push_subscription` entries), newest last; absent when none. */
  readonly push?: readonly PushSubscription[] | undefined;
};

export const EMPTY_USER_STATE: UserState = Object.freeze({
  attributes: Object.freeze({}),
  sends: Object.freeze([]),
  recent: Object.freeze([]),
  applied: Object.freeze([]),
});

/** A state as stored (JSON); one stored before `applied` existed has none. */
export function stateFromJson(json: string): UserState {
  const state = JSON.parse(json) as Omit<UserState, 'applied'> & { applied?: AppliedEntries };
  return state.applied === undefined ? { ...state, applied: EMPTY_USER_STATE.applied } : (state as UserState);
}

const SEND = 3;
const RECENT = 2;

/** The state's sends as records, for people and tests. */
export function sendRecords(state: UserState): SendRecord[] {
  const records: SendRecord[] = [];
  const { sends } = state;
  for (let i = 0; i < sends.length; i += SEND) {
    records.push({
      message_id: sends[i] as string,
      count: sends[i + 1] as number,
      last_at: sends[i + 2] as number,
    });
  }
  return records;
}

/** The state's recent sends as records, for people and tests. */
export function recentSends(state: UserState): RecentSend[] {
  return recentRecords(state.recent);
}

export function recentRecords(recent: RecentList): RecentSend[] {
  const records: RecentSend[] = [];
  for (let i = 0; i < recent.length; i += RECENT)
    records.push({ at: recent[i] as number, channel: recent[i + 1] as Channel });
  return records;
}

/** Where the sends of one message are in the list (read them with `sendCount` and `lastSentAt`), or -1 when it was never sent. */
export function findSends(sends: SendsList, messageId: string): number {
  const i = slotOf(sends, messageId);
  return sends[i] === messageId ? i : -1;
}

export const sendCount = (sends: SendsList, slot: number): number =>
  slot < 0 ? 0 : (sends[slot + 1] as number);
export const lastSentAt = (sends: SendsList, slot: number): number => sends[slot + 2] as number;

/** Binary search: where the record for `messageId` is, or would be inserted. */
function slotOf(sends: SendsList, messageId: string): number {
  let low = 0;
  let high = sends.length / SEND;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if ((sends[middle * SEND] as string) < messageId) low = middle + 1;
    else high = middle;
  }
  return low * SEND;
}

/**
 * The state after the sends decided for one entry at `at`, each at its delivery time (`at`, or
 * later for a send held for its schedule): each message's count and latest send, and the sends a
 * global cap can still count. `recent` is the state's recent sends with the entry's counted sends
 * already placed by `withRecent` (decide builds it as it goes, for the caps of later candidates),
 * so they are placed once. The state given is returned as it is when there was no send.
 */
export function applySends(
  state: UserState,
  at: number,
  sent: readonly SentMessage[],
  recent: RecentList,
  caps: CompiledCaps,
): UserState {
  if (sent.length === 0) return state;
  const sends = state.sends.slice();
  for (const message of sent) {
    const i = slotOf(sends, message.id);
    if (sends[i] === message.id) {
      sends[i + 1] = (sends[i + 1] as number) + 1;
      // The latest send stays the latest: an entry sent at once may come before one held for later.
      sends[i + 2] = Math.max(sends[i + 2] as number, message.at);
    } else {
      sends.splice(i, 0, message.id, 1, message.at);
    }
  }
  return {
    attributes: state.attributes,
    sends,
    recent: recent === state.recent ? recent : keptForCaps(recent, caps, at),
    applied: state.applied,
    optouts: state.optouts,
    push: state.push,
  };
}

/** A copy with the send placed after every send at or before its time: the list stays in time order. */
export function withRecent(recent: RecentList, at: number, channel: Channel): RecentList {
  let i = recent.length;
  while (i > 0 && (recent[i - RECENT] as number) > at) i -= RECENT;
  const copy = recent.slice();
  copy.splice(i, 0, at, channel);
  return copy;
}

/**
 * The sends worth keeping: for each cap, the `max` newest it counts, which is all its check and
 * its `eligible_at` need whatever the order entries arrive in (ingest clocks may disagree, so
 * the next entry can be stamped before the last send); and every send within the longest window
 * of a cap on its channel, measured from the newest send or from `at` when sends are held past it,
 * less the clock skew allowed (a later entry is checked from about `at` and counts exactly the
 * windows holding it, so it must see every send before it), and so that a cap widened later still
 * sees the recent past. Memory per user is bounded by the caps and the sends held.
 */
function keptForCaps(recent: RecentList, caps: CompiledCaps, at: number): RecentList {
  const newest = Math.min(at, (recent[recent.length - RECENT] as number | undefined) ?? 0);
  const keep: boolean[] = [];
  for (let i = 0; i < recent.length; i += RECENT) {
    const horizon = caps.horizon[recent[i + 1] as Channel];
    keep.push(horizon > 0 && (recent[i] as number) > newest - horizon - REPEAT_SKEW_MS);
  }
  for (const cap of caps.caps) {
    let counted = 0;
    for (let i = recent.length - RECENT; i >= 0 && counted < cap.max; i -= RECENT) {
      if (cap.channel !== undefined && recent[i + 1] !== cap.channel) continue;
      keep[i / RECENT] = true;
      counted++;
    }
  }
  if (keep.every(Boolean)) return recent;
  const kept: (number | Channel)[] = [];
  for (let i = 0; i < recent.length; i += RECENT)
    if (keep[i / RECENT] === true) kept.push(recent[i] as number, recent[i + 1] as Channel);
  return kept;
}

/** What `applySends` needs of a send: the message, and when it is delivered. */
export type SentMessage = { readonly id: string; readonly at: number };

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

/**
 * DESIGN §2: `false` opts out of a channel or a message, `true` or `null` opts back in; a key not
 * named is unchanged. The opt-outs are kept sorted, so the same choices give the same state.
 */
export function applyPreferences(state: UserState, entry: PreferencesEntry): UserState {
  const optouts = new Set(state.optouts);
  const choose = (key: string, choice: boolean | null | undefined) => {
    if (choice === false) optouts.add(key);
    else if (choice !== undefined) optouts.delete(key);
  };
  for (const [channel, choice] of Object.entries(entry.channels)) choose(`channel:${channel}`, choice);
  for (const [message, choice] of Object.entries(entry.messages)) choose(`message:${message}`, choice);
  const sorted = [...optouts].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return { ...state, optouts: sorted.length === 0 ? undefined : sorted };
}

/** A user keeps at most this many push subscriptions (browsers and devices); the oldest goes first. */
export const MAX_PUSH_SUBSCRIPTIONS = 10;

/**
 * A subscription added replaces one with the same endpoint (a browser that subscribes again gets
 * new keys) and goes last; one removed is found by its endpoint.
 */
export function applyPushSubscription(state: UserState, entry: PushSubscriptionEntry): UserState {
  const others = (state.push ?? []).filter((s) => s.endpoint !== entry.subscription.endpoint);
  const push =
    entry.action === 'add' ? [...others, entry.subscription].slice(-MAX_PUSH_SUBSCRIPTIONS) : others;
  return { ...state, push: push.length === 0 ? undefined : push };
}

/** A `identify`, `preferences` or `push_subscription` entry's change to the user's state. */
export function applyStateEntry(state: UserState, entry: StateEntry): UserState {
  if (entry.type === 'identify') return applyAttributes(state, entry.attributes);
  if (entry.type === 'preferences') return applyPreferences(state, entry);
  return applyPushSubscription(state, entry);
}

/** Whether the user opted out of the message, or of its channel (which a transactional message ignores). */
export function optedOut(
  state: UserState,
  messageId: string,
  channel: Channel,
  transactional: boolean,
): 'message' | 'channel' | undefined {
  const optouts = state.optouts;
  if (optouts === undefined) return undefined;
  if (optouts.includes(`message:${messageId}`)) return 'message';
  if (!transactional && optouts.includes(`channel:${channel}`)) return 'channel';
  return undefined;
}

/** Where a channel's address comes from, for the channels that need one (DESIGN §4). */
export const ADDRESS_OF: Readonly<Partial<Record<Channel, string>>> = {
  email: 'user.email',
  sms: 'user.phone',
  push: 'a push subscription',
};

/**
 * The user's address for `email` (`user.email`) or `sms` (`user.phone`), trimmed, when it is a
 * string that is not blank. Shared by the core's `unreachable` check and the senders, which read
 * it again at send time, so both take the same values for an address.
 */
export function addressOf(attributes: FlatObject, channel: 'email' | 'sms'): string | undefined {
  const value = attributes[channel === 'email' ? 'email' : 'phone'];
  return typeof value === 'string' && value.trim() !== '' ? value.trim() : undefined;
}

/** Whether the user has an address for the channel: the in-app channels and `webhook` always do. */
export function hasAddress(state: UserState, channel: Channel): boolean {
  if (channel === 'email' || channel === 'sms') return addressOf(state.attributes, channel) !== undefined;
  if (channel === 'push') return state.push !== undefined && state.push.length > 0;
  return true;
}
