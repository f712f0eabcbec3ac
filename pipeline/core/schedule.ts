import type { Day, Schedule } from './message-schema.ts';
import { DAYS } from './message-schema.ts';
import type { LocalTime } from './local-time.ts';
import { DAY_MS, mod, timeZone } from './local-time.ts';

/** Why a send is outside its schedule: the local time seen and when the window next opens. */
export type ScheduleClosed = {
  readonly timezone: string;
  readonly local_day: Day;
  /** `HH:MM` in the schedule's timezone. */
  readonly local_time: string;
  /** The instant the next window opens, or null when it never does. */
  readonly opens_at: number | null;
};

export type CompiledSchedule = (at: number) => ScheduleClosed | undefined;

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
  const zone = timeZone(schedule.timezone);
  const days = new Set((schedule.days ?? DAYS).map((day) => DAYS.indexOf(day)));
  const from = clockMinutes(schedule.from);
  const to = clockMinutes(schedule.to);
  const overnight = to < from;
  const isOpen = (local: LocalTime): boolean =>
    overnight
      ? (days.has(local.weekday) && local.minutes >= from) ||
        (days.has(mod(local.weekday - 1, 7)) && local.minutes < to)
      : days.has(local.weekday) && local.minutes >= from && local.minutes < to;

  const nextOpening = (at: number, local: LocalTime): number | null => {
    for (let ahead = 0; ahead <= 7; ahead++) {
      const date = local.date + ahead;
      if (!days.has(mod(date + 4, 7))) continue;
      const opens = zone.instantOf(date * DAY_MS + from * 60_000);
      if (opens > at) return opens;
    }
    return null;
  };

  return (at) => {
    const local = zone.localTime(at);
    if (isOpen(local)) return undefined;
    return {
      timezone: schedule.timezone,
      local_day: DAYS[local.weekday] ?? 'sun',
      local_time: clockText(local.minutes),
      opens_at: nextOpening(at, local),
    };
  };
}
