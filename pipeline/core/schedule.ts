import type { Day, Schedule } from './message-schema.ts';
import { DAYS } from './message-schema.ts';
import type { LocalTime, TimeZone } from './local-time.ts';
import { DAY_MS, knownTimeZone, mod, timeZone } from './local-time.ts';
import type { FlatObject } from './scalar.ts';

/** Why a send is outside its schedule: the local time seen and when the window next opens. */
export type ScheduleClosed = {
  /** The zone the window was read in. */
  readonly timezone: string;
  /**
   * Only for `timezone: "user"`: `user` when the user's `timezone` attribute named a zone, else
   * `fallback` with why (`missing`: no such attribute; `invalid`: it named no zone the runtime
   * knows). Absent for a message with a zone of its own, so those decisions read as before.
   */
  readonly zone_from?: 'user' | 'fallback';
  readonly fallback_because?: 'missing' | 'invalid';
  readonly local_day: Day;
  /** `HH:MM` in the schedule's timezone. */
  readonly local_time: string;
  /** The instant the next window opens, or null when it never does. */
  readonly opens_at: number | null;
  /**
   * Only for `outside: "defer"`: the longest the entry could wait, when the window opens later
   * than that (or never). Absent otherwise.
   */
  readonly defer_max?: number;
};

/** Whether the window is open at `at` for a user with these attributes (read only for `timezone: "user"`). */
export type CompiledSchedule = (at: number, user: FlatObject) => ScheduleClosed | undefined;

/** `schedule.timezone` for the user's own zone, from their `timezone` attribute. */
export const USER_TIMEZONE = 'user';

export const ALWAYS_OPEN: CompiledSchedule = () => undefined;

const clockMinutes = (text: string) => Number(text.slice(0, 2)) * 60 + Number(text.slice(3, 5));
const clockText = (minutes: number) =>
  `${String(Math.floor(minutes / 60)).padStart(2, '0')}:${String(minutes % 60).padStart(2, '0')}`;

/**
 * DESIGN §3: open when `from <= local time < to` on a listed day; a window whose `to` is earlier
 * than its `from` runs overnight, and belongs to the day it opened.
 */
export function compileSchedule(schedule: Schedule | undefined): CompiledSchedule {
  if (schedule === undefined) return ALWAYS_OPEN;
  const perUser = schedule.timezone === USER_TIMEZONE;
  const own = timeZone(perUser ? (schedule.fallback_timezone ?? 'UTC') : schedule.timezone);
  const days = new Set((schedule.days ?? DAYS).map((day) => DAYS.indexOf(day)));
  const from = clockMinutes(schedule.from);
  const to = clockMinutes(schedule.to);
  const overnight = to < from;
  const isOpen = (local: LocalTime): boolean =>
    overnight
      ? (days.has(local.weekday) && local.minutes >= from) ||
        (days.has(mod(local.weekday - 1, 7)) && local.minutes < to)
      : days.has(local.weekday) && local.minutes >= from && local.minutes < to;

  /**
   * The first instant after `at` when the window is open: the local time reaches `from` (on a
   * listed day; twice on a day clocks go back), or clocks jump into the window. Times that do not
   * exist (clocks going forward) are skipped: a window inside the gap does not open that day.
   */
  const nextOpening = (zone: TimeZone, at: number, local: LocalTime): number | null => {
    const candidates: number[] = [];
    for (let ahead = 0; ahead <= 8; ahead++) {
      const date = local.date + ahead;
      if (days.has(mod(date + 4, 7))) candidates.push(...zone.instantsOf(date * DAY_MS + from * 60_000));
    }
    candidates.push(...zone.changesBetween(at, at + 9 * DAY_MS));
    let first: number | null = null;
    for (const opens of candidates)
      if (opens > at && (first === null || opens < first) && isOpen(zone.localTime(opens))) first = opens;
    return first;
  };

  const closed = (zone: TimeZone, at: number): Omit<ScheduleClosed, 'zone_from'> | undefined => {
    const local = zone.localTime(at);
    if (isOpen(local)) return undefined;
    return {
      timezone: zone.name,
      local_day: DAYS[local.weekday] ?? 'sun',
      local_time: clockText(local.minutes),
      opens_at: nextOpening(zone, at, local),
    };
  };

  if (!perUser) return (at) => closed(own, at);
  return (at, user) => {
    const named = user['timezone'];
    const zone = typeof named === 'string' ? knownTimeZone(named) : undefined;
    const shut = closed(zone ?? own, at);
    if (shut === undefined) return undefined;
    if (zone !== undefined) return { ...shut, zone_from: 'user' };
    return { ...shut, zone_from: 'fallback', fallback_because: named === undefined ? 'missing' : 'invalid' };
  };
}
