import type { Channel, GlobalCap } from './message-schema.ts';
import { CHANNELS } from './message-schema.ts';

/** `[at, channel]` for every send a global cap can still count, flat, in time order. */
export type RecentList = readonly (number | Channel)[];

/** Global caps compiled for one caps setting: which caps apply to each channel, and how far back each channel's sends matter. */
export type CompiledCaps = {
  readonly caps: readonly GlobalCap[];
  readonly byChannel: Readonly<Record<Channel, readonly GlobalCap[]>>;
  /** The longest window of a cap that counts sends on this channel (0: none does). */
  readonly horizon: Readonly<Record<Channel, number>>;
};

/** Why a send would break a global cap: the first cap that blocks, and when every blocking cap lets the user through again. */
export type CapBlocked = {
  readonly cap: GlobalCap;
  readonly sends_in_window: number;
  /** null when a blocking cap has `max: 0`, which never lets a send through. */
  readonly eligible_at: number | null;
};

export function compileCaps(caps: readonly GlobalCap[]): CompiledCaps {
  const entries = CHANNELS.map((channel) => {
    const applying = caps.filter((cap) => cap.channel === undefined || cap.channel === channel);
    return [channel, applying, Math.max(0, ...applying.map((cap) => cap.per))] as const;
  });
  return {
    caps,
    byChannel: Object.fromEntries(entries.map(([channel, applying]) => [channel, applying])) as Record<
      Channel,
      GlobalCap[]
    >,
    horizon: Object.fromEntries(entries.map(([channel, , horizon]) => [channel, horizon])) as Record<
      Channel,
      number
    >,
  };
}

export const NO_CAPS: CompiledCaps = compileCaps([]);

/**
 * DESIGN §4 check 6: a send at `at` breaks a cap when some window of `per` holding `at` would then
 * hold more than `max` of the sends the cap counts. Sends stamped after `at` are in `recent` too
 * (sends held for a later delivery, and ingest clocks that disagree slightly): counting every send
 * at its own time, no window of `per` anywhere ever holds more than `max`. `recent` is in time order.
 */
export function checkCaps(
  caps: CompiledCaps,
  channel: Channel,
  recent: RecentList,
  at: number,
): CapBlocked | undefined {
  let blocked: CapBlocked | undefined;
  for (const cap of caps.byChannel[channel]) {
    const count = fullestWindow(cap, recent, at);
    if (count < cap.max) continue;
    const eligible = cap.max === 0 ? null : capOpensAt(cap, recent, at);
    const eligible_at =
      blocked === undefined
        ? eligible
        : blocked.eligible_at === null || eligible === null
          ? null
          : Math.max(blocked.eligible_at, eligible);
    blocked = { cap: blocked?.cap ?? cap, sends_in_window: blocked?.sends_in_window ?? count, eligible_at };
  }
  return blocked;
}

function counted(cap: GlobalCap, sendChannel: Channel): boolean {
  return cap.channel === undefined || sendChannel === cap.channel;
}

/** The sends the cap counts in the window `(end - per, end]`. */
function sendsIn(cap: GlobalCap, recent: RecentList, end: number): number {
  let count = 0;
  for (let i = 0; i < recent.length; i += 2) {
    const sendAt = recent[i] as number;
    if (sendAt > end) break;
    if (sendAt > end - cap.per && counted(cap, recent[i + 1] as Channel)) count++;
  }
  return count;
}

/**
 * The most sends the cap counts in one window of `per` holding `at`: the windows ending at `at`
 * and at each counted send after it, less than `per` later (a window's count only rises at a send).
 */
function fullestWindow(cap: GlobalCap, recent: RecentList, at: number): number {
  let most = sendsIn(cap, recent, at);
  for (let i = recent.length - 2; i >= 0; i -= 2) {
    const sendAt = recent[i] as number;
    if (sendAt <= at) break;
    if (sendAt < at + cap.per && counted(cap, recent[i + 1] as Channel))
      most = Math.max(most, sendsIn(cap, recent, sendAt));
  }
  return most;
}

/**
 * The earliest time from `at` when a send fits under the cap: the windows a send would join only
 * lose sends when one leaves, so the first time is `at` or a counted send plus `per`. With no
 * send after `at` this is the (count - max)-th oldest counted send in the window, plus `per`.
 */
function capOpensAt(cap: GlobalCap, recent: RecentList, at: number): number {
  let last = at;
  for (let i = 0; i < recent.length; i += 2) {
    const leaves = (recent[i] as number) + cap.per;
    if (leaves <= at || !counted(cap, recent[i + 1] as Channel)) continue;
    if (fullestWindow(cap, recent, leaves) < cap.max) return leaves;
    last = Math.max(last, leaves);
  }
  return last; // unreachable: after the last send leaves, every window is empty
}
