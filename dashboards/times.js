// Times as the overview writes them: always UTC, as the stats are bucketed.

export const MINUTE = 60_000;
export const HOUR = 3_600_000;
export const DAY = 86_400_000;

/** "2026-10-05" for a day bucket, else "2026-10-05 09:12". */
export const time = (ms, bucket) =>
  new Date(ms)
    .toISOString()
    .slice(0, bucket === 'day' ? 10 : 16)
    .replace('T', ' ');
/** "09:12". */
export const clock = (ms) => new Date(ms).toISOString().slice(11, 16);
/** "Oct 5". */
export const shortDay = (ms) =>
  new Date(ms).toLocaleDateString('en-US', { month: 'short', day: 'numeric', timeZone: 'UTC' });

/**
 * A span in words, as short as it reads: "2026-10-05 to 2026-10-07" for whole days (the last one
 * included), "2026-10-07 18:00–24:00 UTC" within a day, else both ends to the minute.
 */
export function span(from, to) {
  if (from % DAY === 0 && to % DAY === 0)
    return to - from === DAY ? time(from, 'day') : `${time(from, 'day')} to ${time(to - DAY, 'day')}`;
  if (Math.floor(from / DAY) === Math.floor((to - 1) / DAY))
    return `${time(from, 'day')} ${clock(from)}–${to % DAY === 0 ? '24:00' : clock(to)} UTC`;
  return `${time(from, 'minute')} – ${time(to, 'minute')} UTC`;
}
