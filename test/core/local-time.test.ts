import { describe, expect, it } from 'vitest';
import { DAY_MS, mod, TimeZone, timeZone } from '../../pipeline/core/local-time.ts';
import { at, HOUR } from './builders.ts';

const localDate = (iso: string) => Math.floor(at(`${iso}T00:00:00Z`) / DAY_MS);

describe('TimeZone', () => {
  it.each([
    ['UTC', '2026-01-05T12:34:56Z', '2026-01-05', 1, 12 * 60 + 34],
    ['Europe/London', '2026-01-05T12:34:00Z', '2026-01-05', 1, 12 * 60 + 34],
    ['Europe/London', '2026-07-05T23:30:00Z', '2026-07-06', 1, 30],
    ['America/New_York', '2026-01-05T03:00:00Z', '2026-01-04', 0, 22 * 60],
    ['Asia/Kolkata', '2026-01-04T18:30:00Z', '2026-01-05', 1, 0],
    ['Europe/London', '2026-03-29T00:59:00Z', '2026-03-29', 0, 59],
    ['Europe/London', '2026-03-29T01:00:00Z', '2026-03-29', 0, 2 * 60],
    ['Europe/London', '2026-10-25T00:59:00Z', '2026-10-25', 0, 60 + 59],
    ['Europe/London', '2026-10-25T01:00:00Z', '2026-10-25', 0, 60],
  ] as const)('%s at %s is %s (weekday %i), minute %i', (zone, instant, date, weekday, minutes) => {
    expect(new TimeZone(zone).localTime(at(instant))).toEqual({ date: localDate(date), weekday, minutes });
  });

  it.each([
    ['Europe/London', '2026-01-05T12:00:00Z', 0],
    ['Europe/London', '2026-07-05T12:00:00Z', HOUR],
    ['America/New_York', '2026-03-08T06:59:59.999Z', -5 * HOUR],
    ['America/New_York', '2026-03-08T07:00:00Z', -4 * HOUR],
    ['Asia/Kolkata', '2026-07-05T12:00:00Z', 5.5 * HOUR],
  ] as const)('%s offset at %s is %i ms', (zone, instant, offset) => {
    expect(timeZone(zone).offsetAt(at(instant))).toBe(offset);
  });

  it('instantOf inverts localTime outside DST switches', () => {
    const london = timeZone('Europe/London');
    const wall = localDate('2026-07-06') * DAY_MS + 9 * HOUR;
    expect(london.instantOf(wall)).toBe(at('2026-07-06T08:00:00Z'));
    expect(london.instantOf(localDate('2026-03-29') * DAY_MS + 9 * HOUR)).toBe(at('2026-03-29T08:00:00Z'));
    expect(london.instantOf(localDate('2026-10-25') * DAY_MS + 9 * HOUR)).toBe(at('2026-10-25T09:00:00Z'));
  });

  it('memoised offsets give the same answers as a fresh zone, in any order', () => {
    const shared = timeZone('America/New_York');
    const instants = [at('2026-11-01T05:59:00Z'), at('2026-11-01T06:00:00Z'), at('2026-03-08T07:00:00Z')];
    for (const instant of [...instants, ...instants.reverse()]) {
      expect(shared.localTime(instant)).toEqual(new TimeZone('America/New_York').localTime(instant));
    }
  });

  it('mod is never negative', () => {
    expect([mod(-1, 7), mod(7, 7), mod(-8, 7), mod(3, 7)]).toEqual([6, 0, 6, 3]);
  });
});
