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
 * DESIGN §4 check 6: a cap blocks when the user's sends it counts in `(at - per, at]` reach `max`.
 * Sends stamped after `at` count too: ingest clocks may disagree slightly, and a send already made
 * must never be left out of a window (with that, no window of `per` ever holds more than `max`).
 * `recent` is in time order.
 */
export function checkCaps(
  caps: CompiledCaps,
  channel: Channel,
  recent: RecentList,
  at: number,
): CapBlocked | undefined {
  let blocked: CapBlocked | undefined;
  for (const cap of caps.byChannel[channel]) {
    let count = 0;
    for (let i = 0; i < recent.length; i += 2)
      if (counts(cap, recent[i] as number, recent[i + 1] as Channel, at)) count++;
    if (count < cap.max) continue;
    const eligible = cap.max === 0 ? null : eligibleAt(recent, cap, at, count);
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

function counts(cap: GlobalCap, sendAt: number, sendChannel: Channel, at: number): boolean {
  return sendAt > at - cap.per && (cap.channel === undefined || sendChannel === cap.channel);
}

/**
 * When enough of the counted sends have left the window for one more to fit under `max`: the
 * (count - max)-th oldest counted send in the window, plus `per` (`recent` is in time order).
 */
function eligibleAt(recent: RecentList, cap: GlobalCap, at: number, count: number): number {
  const wanted = count - cap.max;
  let seen = 0;
  for (let i = 0; i < recent.length; i += 2) {
    const sendAt = recent[i] as number;
    if (counts(cap, sendAt, recent[i + 1] as Channel, at) && seen++ === wanted) return sendAt + cap.per;
  }
  return at + cap.per; // unreachable: `count` counted sends exist
}
