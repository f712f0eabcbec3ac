import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decide } from '../../pipeline/core/decide.ts';
import { explain } from '../../pipeline/core/explain.ts';
import type { Day } from '../../pipeline/core/message-schema.ts';
import { DAYS, ScheduleSchema } from '../../pipeline/core/message-schema.ts';
import type { ScheduleClosed } from '../../pipeline/core/schedule.ts';
import { compileSchedule } from '../../pipeline/core/schedule.ts';
import { at, DAY, identify, index, message, MINUTE, NONE, only, run, track, withReason } from './builders.ts';

function schedule(input: Record<string, unknown>): (instant: string | number) => ScheduleClosed | undefined {
  const compiled = compileSchedule(ScheduleSchema.parse(input));
  return (instant) => compiled(typeof instant === 'number' ? instant : at(instant), {});
}

/** Whether the window is open at each instant: table rows are [instant, open]. */
function expectOpen(
  check: (instant: string) => ScheduleClosed | undefined,
  rows: readonly (readonly [string, boolean])[],
): void {
  const seen = rows.map(([instant]) => [instant, check(instant) === undefined] as const);
  expect(seen).toEqual(rows);
}

describe('no schedule, and defaults', () => {
  it('an absent schedule is always open', () => {
    const always = compileSchedule(undefined);
    for (const instant of [0, at('2026-03-29T01:30:00Z'), at('2030-12-31T23:59:59Z')]) {
      expect(always(instant, {})).toBeUndefined();
    }
  });

  it('absent from/to mean the whole day, absent timezone is UTC', () => {
    const sundays = schedule({ days: ['sun'] });
    expectOpen(sundays, [
      ['2026-01-03T23:59:59.999Z', false], // Saturday
      ['2026-01-04T00:00:00Z', true], // Sunday
      ['2026-01-04T23:59:59.999Z', true],
      ['2026-01-05T00:00:00Z', false],
    ]);
  });

  it('absent days means every day', () => {
    const mornings = schedule({ from: '09:00', to: '12:00' });
    for (let d = 0; d < 7; d++) {
      const day = at('2026-01-04T00:00:00Z') + d * DAY;
      expect(mornings(day + 9 * 60 * MINUTE)).toBeUndefined();
      expect(mornings(day + 12 * 60 * MINUTE)).toBeDefined();
    }
  });
});

describe('a working-hours window in a timezone', () => {
  const weekdays: Day[] = ['mon', 'tue', 'wed', 'thu', 'fri'];

  it('Europe/London in winter (UTC+0) and summer (UTC+1)', () => {
    const london = schedule({ timezone: 'Europe/London', days: weekdays, from: '09:00', to: '18:00' });
    expectOpen(london, [
      ['2026-01-05T08:59:59.999Z', false], // Monday 08:59 GMT
      ['2026-01-05T09:00:00Z', true],
      ['2026-01-05T17:59:59.999Z', true],
      ['2026-01-05T18:00:00Z', false], // `to` is excluded
      ['2026-01-10T12:00:00Z', false], // Saturday
      ['2026-07-06T07:59:00Z', false], // Monday 08:59 BST
      ['2026-07-06T08:00:00Z', true], // Monday 09:00 BST
      ['2026-07-06T16:59:00Z', true],
      ['2026-07-06T17:00:00Z', false], // 18:00 BST
    ]);
  });

  it('America/New_York in winter (UTC-5) and summer (UTC-4)', () => {
    const newYork = schedule({ timezone: 'America/New_York', days: weekdays, from: '09:00', to: '18:00' });
    expectOpen(newYork, [
      ['2026-01-05T13:59:00Z', false],
      ['2026-01-05T14:00:00Z', true], // Monday 09:00 EST
      ['2026-01-05T22:59:00Z', true],
      ['2026-01-05T23:00:00Z', false],
      ['2026-07-06T12:59:00Z', false],
      ['2026-07-06T13:00:00Z', true], // Monday 09:00 EDT
      ['2026-01-10T03:00:00Z', false], // Friday 22:00 local: outside hours
      ['2026-01-06T02:00:00Z', false], // Monday 21:00 local, Tuesday in UTC
    ]);
  });

  it('the local day is the day in the schedule timezone, not in UTC', () => {
    const tokyoMonday = schedule({ timezone: 'Asia/Tokyo', days: ['mon'] });
    // Sunday 2026-01-04 16:00 UTC is Monday 01:00 in Tokyo.
    expect(tokyoMonday('2026-01-04T16:00:00Z')).toBeUndefined();
    expect(tokyoMonday('2026-01-04T14:59:00Z')).toMatchObject({ local_day: 'sun', local_time: '23:59' });
  });

  it('explains the local day and time and when it opens', () => {
    const london = schedule({ timezone: 'Europe/London', days: weekdays, from: '09:00', to: '18:00' });
    expect(london('2026-01-10T12:00:00Z')).toEqual({
      timezone: 'Europe/London',
      local_day: 'sat',
      local_time: '12:00',
      opens_at: at('2026-01-12T09:00:00Z'),
    });
    expect(london('2026-01-05T08:30:00Z')).toEqual({
      timezone: 'Europe/London',
      local_day: 'mon',
      local_time: '08:30',
      opens_at: at('2026-01-05T09:00:00Z'),
    });
    expect(london('2026-01-09T18:00:00Z')?.opens_at).toBe(at('2026-01-12T09:00:00Z'));
    expect(london('2026-07-04T12:00:00Z')?.opens_at).toBe(at('2026-07-06T08:00:00Z'));
  });

  it('a single listed day already past today opens next week', () => {
    const mondays = schedule({ timezone: 'UTC', days: ['mon'], from: '09:00', to: '10:00' });
    expect(mondays('2026-01-05T10:00:00Z')?.opens_at).toBe(at('2026-01-12T09:00:00Z'));
  });
});

describe('an overnight window', () => {
  // January: London is on UTC, so local and UTC agree. 2026-01-09 is a Friday.
  const fridayNight = schedule({ timezone: 'Europe/London', days: ['fri'], from: '22:00', to: '06:00' });

  it('belongs to the day it opened', () => {
    expectOpen(fridayNight, [
      ['2026-01-09T21:59:00Z', false], // Friday 21:59
      ['2026-01-09T22:00:00Z', true], // Friday 22:00
      ['2026-01-10T03:00:00Z', true], // Saturday 03:00, Friday's window
      ['2026-01-10T05:59:59.999Z', true],
      ['2026-01-10T06:00:00Z', false],
      ['2026-01-10T23:00:00Z', false], // Saturday 23:00: Saturday is not listed
      ['2026-01-11T03:00:00Z', false], // Sunday 03:00
      ['2026-01-09T03:00:00Z', false], // Friday 03:00 belongs to Thursday's window
    ]);
  });

  it('with sat listed too, Saturday night and Sunday early morning are open', () => {
    const weekendNights = schedule({
      timezone: 'Europe/London',
      days: ['fri', 'sat'],
      from: '22:00',
      to: '06:00',
    });
    expectOpen(weekendNights, [
      ['2026-01-10T23:00:00Z', true],
      ['2026-01-11T03:00:00Z', true],
      ['2026-01-11T06:00:00Z', false],
      ['2026-01-09T03:00:00Z', false],
    ]);
  });

  it('in America/New_York', () => {
    const ny = schedule({ timezone: 'America/New_York', days: ['fri'], from: '22:00', to: '06:00' });
    expectOpen(ny, [
      ['2026-01-10T02:59:00Z', false], // Friday 21:59 EST
      ['2026-01-10T03:00:00Z', true], // Friday 22:00 EST
      ['2026-01-10T08:00:00Z', true], // Saturday 03:00 EST
      ['2026-01-10T11:00:00Z', false], // Saturday 06:00 EST
      ['2026-01-11T04:00:00Z', false], // Saturday 23:00 EST
    ]);
  });

  it('explains a Saturday 23:00 as closed until next Friday 22:00', () => {
    expect(fridayNight('2026-01-10T23:00:00Z')).toEqual({
      timezone: 'Europe/London',
      local_day: 'sat',
      local_time: '23:00',
      opens_at: at('2026-01-16T22:00:00Z'),
    });
    expect(fridayNight('2026-01-09T12:00:00Z')?.opens_at).toBe(at('2026-01-09T22:00:00Z'));
  });

  it('to 24:00 runs to midnight and is not overnight', () => {
    const evenings = schedule({ timezone: 'UTC', days: ['fri'], from: '20:00', to: '24:00' });
    expectOpen(evenings, [
      ['2026-01-09T23:59:59.999Z', true],
      ['2026-01-10T00:00:00Z', false],
    ]);
  });
});

describe('DST change days', () => {
  const london = schedule({ timezone: 'Europe/London', from: '09:00', to: '18:00' });
  const newYork = schedule({ timezone: 'America/New_York', from: '09:00', to: '18:00' });

  it('London, spring forward on 2026-03-29: 09:00 local is 09:00 UTC the day before, 08:00 UTC that day', () => {
    expectOpen(london, [
      ['2026-03-28T08:59:00Z', false],
      ['2026-03-28T09:00:00Z', true],
      ['2026-03-29T07:59:00Z', false], // 08:59 BST
      ['2026-03-29T08:00:00Z', true], // 09:00 BST
      ['2026-03-29T16:59:00Z', true],
      ['2026-03-29T17:00:00Z', false], // 18:00 BST
    ]);
    expect(london('2026-03-29T07:59:00Z')).toMatchObject({
      local_day: 'sun',
      local_time: '08:59',
      opens_at: at('2026-03-29T08:00:00Z'),
    });
  });

  it('London, fall back on 2026-10-25: 09:00 local is 08:00 UTC the day before, 09:00 UTC that day', () => {
    expectOpen(london, [
      ['2026-10-24T07:59:00Z', false],
      ['2026-10-24T08:00:00Z', true],
      ['2026-10-25T08:00:00Z', false], // 08:00 GMT
      ['2026-10-25T08:59:00Z', false], // 08:59 GMT
      ['2026-10-25T09:00:00Z', true], // 09:00 GMT
    ]);
    expect(london('2026-10-25T08:59:00Z')).toMatchObject({
      local_day: 'sun',
      local_time: '08:59',
      opens_at: at('2026-10-25T09:00:00Z'),
    });
  });

  it('opens_at computed across the switch is in the new offset', () => {
    expect(london('2026-03-28T20:00:00Z')?.opens_at).toBe(at('2026-03-29T08:00:00Z'));
    expect(london('2026-10-24T20:00:00Z')?.opens_at).toBe(at('2026-10-25T09:00:00Z'));
  });

  it('New York, 2026-03-08 and 2026-11-01', () => {
    expectOpen(newYork, [
      ['2026-03-07T13:59:00Z', false],
      ['2026-03-07T14:00:00Z', true], // 09:00 EST
      ['2026-03-08T12:59:00Z', false],
      ['2026-03-08T13:00:00Z', true], // 09:00 EDT
      ['2026-10-31T12:59:00Z', false],
      ['2026-10-31T13:00:00Z', true], // 09:00 EDT
      ['2026-11-01T13:59:00Z', false],
      ['2026-11-01T14:00:00Z', true], // 09:00 EST
    ]);
  });

  it('a window opening inside the skipped hour opens at the first local time after it', () => {
    // 01:30 does not exist in London on 2026-03-29: at 01:00 UTC clocks go from 01:00 GMT to 02:00 BST,
    // and 02:00 BST is already inside [01:30, 03:00).
    const night = schedule({ timezone: 'Europe/London', from: '01:30', to: '03:00' });
    expect(night('2026-03-29T00:59:00Z')).toBeDefined();
    expect(night('2026-03-29T01:00:00Z')).toBeUndefined();
    expect(night('2026-03-29T00:59:00Z')?.opens_at).toBe(at('2026-03-29T01:00:00Z'));
  });

  it('a window opening inside the repeated hour opens at its first occurrence', () => {
    // 01:30 happens twice in London on 2026-10-25: 00:30 UTC (BST) and 01:30 UTC (GMT).
    const night = schedule({ timezone: 'Europe/London', from: '01:30', to: '03:00' });
    expect(night('2026-10-25T00:00:00Z')).toBeDefined(); // 01:00 BST
    expect(night('2026-10-25T00:30:00Z')).toBeUndefined(); // 01:30 BST
    expect(night('2026-10-25T00:00:00Z')?.opens_at).toBe(at('2026-10-25T00:30:00Z'));
  });
});

describe('schedule in decide and explain', () => {
  it('a closed schedule suppresses with the reason schedule and says when it opens', () => {
    const rules = index(
      message({ schedule: { timezone: 'Europe/London', days: ['mon'], from: '09:00', to: '18:00' } }),
    );
    const decision = only(
      decide(undefined, track({ received_at: at('2026-03-29T07:59:00Z') }), rules, NONE).decisions,
    );
    const closed = withReason(decision, 'schedule');
    expect(closed.outcome).toBe('suppressed');
    expect(closed.explanation).toEqual({
      timezone: 'Europe/London',
      local_day: 'sun',
      local_time: '08:59',
      opens_at: at('2026-03-30T08:00:00Z'),
    });
    const sentence = explain(decision);
    expect(sentence).toContain('sun 08:59');
    expect(sentence).toContain('Europe/London');
    expect(sentence).toContain('2026-03-30T08:00:00.000Z');
  });

  it('an open schedule lets the send through', () => {
    const rules = index(
      message({ schedule: { timezone: 'America/New_York', days: ['sun'], from: '09:00' } }),
    );
    const decision = only(
      decide(undefined, track({ received_at: at('2026-03-08T13:00:00Z') }), rules, NONE).decisions,
    );
    expect(decision.outcome).toBe('sent');
  });
});

describe('opens_at (property)', () => {
  // Zones without DST, and with DST but windows opening away from the 01:00-03:00 switch hours.
  const scheduleArb = fc.record({
    timezone: fc.constantFrom('UTC', 'Asia/Tokyo', 'Asia/Kolkata', 'Europe/London', 'America/New_York'),
    days: fc.uniqueArray(fc.constantFrom(...DAYS), { minLength: 1, maxLength: 7 }),
    from: fc.tuple(fc.integer({ min: 4, max: 23 }), fc.constantFrom(0, 15, 30, 45)),
    to: fc.tuple(fc.integer({ min: 0, max: 24 }), fc.constantFrom(0, 30)),
  });
  const clock = ([h, m]: readonly [number, number]) =>
    `${String(h).padStart(2, '0')}:${String(h === 24 ? 0 : m).padStart(2, '0')}`;

  it('when closed, the window is closed until opens_at and open at opens_at', () => {
    fc.assert(
      fc.property(
        scheduleArb,
        fc.integer({ min: at('2026-01-01T00:00:00Z'), max: at('2027-01-01T00:00:00Z') }),
        fc.array(fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true }), {
          minLength: 1,
          maxLength: 5,
        }),
        (input, instant, samples) => {
          const from = clock(input.from);
          const to = clock(input.to);
          fc.pre(from !== to);
          const check = schedule({ ...input, from, to });
          const closed = check(instant);
          if (closed === undefined) return;
          const opens = closed.opens_at;
          expect(opens).not.toBeNull();
          if (opens === null) return;
          expect(opens).toBeGreaterThan(instant);
          expect(opens - instant).toBeLessThanOrEqual(8 * DAY);
          expect(check(opens)).toBeUndefined();
          expect(check(opens - 1)).toBeDefined();
          for (const sample of samples) {
            expect(check(instant + Math.floor(sample * (opens - instant)))).toBeDefined();
          }
        },
      ),
      { numRuns: 400 },
    );
  });
});

describe('the user\'s timezone (timezone "user")', () => {
  // 2026-12-07T00:30Z is a Monday: 09:30 in Tokyo (UTC+9), Sunday 16:30 in Los Angeles (UTC-8).
  const instant = at('2026-12-07T00:30:00Z');
  const workdays = {
    timezone: 'user',
    days: ['mon', 'tue', 'wed', 'thu', 'fri'] as Day[],
    from: '09:00',
    to: '18:00',
  };
  const rules = index(message({ schedule: workdays }));
  const decided = (attributes: Record<string, string | number>) =>
    only(run([identify(attributes), track({ received_at: instant })], rules).decisions);

  it('one message, one instant: open for a user in Tokyo, closed for one in Los Angeles, each in their own zone', () => {
    expect(decided({ timezone: 'Asia/Tokyo' }).outcome).toBe('sent');
    const la = withReason(decided({ timezone: 'America/Los_Angeles' }), 'schedule');
    expect(la.explanation).toEqual({
      timezone: 'America/Los_Angeles',
      zone_from: 'user',
      local_day: 'sun',
      local_time: '16:30',
      // Monday 09:00 in Los Angeles is 17:00 UTC.
      opens_at: at('2026-12-07T17:00:00Z'),
    });
    expect(explain(la)).toBe(
      "suppressed by the schedule: it was sun 16:30 in America/Los_Angeles (the user's timezone), outside the window; it opens again at 2026-12-07T17:00:00.000Z",
    );
  });

  it('a user without a timezone, or with one that names no zone, is read in the fallback, and the explanation says why', () => {
    const missing = withReason(decided({}), 'schedule');
    expect(missing.explanation).toMatchObject({
      timezone: 'UTC',
      zone_from: 'fallback',
      fallback_because: 'missing',
    });
    expect(explain(missing)).toContain('in UTC (the fallback: the user has no timezone)');
    const invalid = withReason(decided({ timezone: 'Mars/Olympus' }), 'schedule');
    expect(invalid.explanation).toMatchObject({ zone_from: 'fallback', fallback_because: 'invalid' });
    expect(explain(invalid)).toContain("(the fallback: the user's timezone is not an IANA name)");
    expect(withReason(decided({ timezone: 9 }), 'schedule').explanation).toMatchObject({
      fallback_because: 'invalid',
    });
    // Sydney (UTC+11 in December) makes it Monday 11:30: the fallback zone decides.
    const sydney = index(message({ schedule: { ...workdays, fallback_timezone: 'Australia/Sydney' } }));
    expect(only(run([track({ received_at: instant })], sydney).decisions).outcome).toBe('sent');
  });

  it('a message with a zone of its own reads as before: no zone_from in its explanation', () => {
    const london = index(message({ schedule: { ...workdays, timezone: 'Europe/London' } }));
    const closed = withReason(only(run([track({ received_at: instant })], london).decisions), 'schedule');
    expect(closed.explanation).toEqual({
      timezone: 'Europe/London',
      local_day: 'mon',
      local_time: '00:30',
      opens_at: at('2026-12-07T09:00:00Z'),
    });
  });

  it('the schema takes "user" and a fallback with it, and refuses a fallback without it', () => {
    expect(ScheduleSchema.parse({ timezone: 'user', fallback_timezone: 'Asia/Tokyo' })).toMatchObject({
      timezone: 'user',
      fallback_timezone: 'Asia/Tokyo',
    });
    const refused = ScheduleSchema.safeParse({ timezone: 'Europe/London', fallback_timezone: 'UTC' });
    expect(refused.error?.issues[0]?.message).toBe(
      'only with timezone "user": a schedule in a zone of its own needs no fallback',
    );
    expect(ScheduleSchema.safeParse({ timezone: 'user', fallback_timezone: 'Mars/Olympus' }).success).toBe(
      false,
    );
    expect(ScheduleSchema.safeParse({ timezone: 'Mars/Olympus' }).error?.issues[0]?.message).toContain(
      'or "user" for each user\'s own',
    );
  });
});

describe('the next opening across clock changes (New York, 2026)', () => {
  it('a window inside the hour a spring-forward skips does not open that day', () => {
    // 2026-03-08 02:00 EST jumps to 03:00 EDT: 02:00–02:30 never happens that day.
    const shut = schedule({ timezone: 'America/New_York', from: '02:00', to: '02:30' });
    expect(shut('2026-03-07T07:30:00Z')?.opens_at).toBe(at('2026-03-09T06:00:00Z')); // Monday 02:00 EDT
    // A window the gap only cuts into opens at its end, 03:00 EDT.
    const cut = schedule({ timezone: 'America/New_York', from: '02:30', to: '04:00' });
    expect(cut('2026-03-08T06:00:00Z')?.opens_at).toBe(at('2026-03-08T07:00:00Z'));
  });

  it('a window an hour a fall-back repeats opens again within the hour', () => {
    // 2026-11-01 02:00 EDT falls back to 01:00 EST (06:00Z): 01:00–02:00 happens twice.
    const repeated = schedule({ timezone: 'America/New_York', from: '01:00', to: '01:30' });
    expect(repeated('2026-11-01T05:40:00Z')?.opens_at).toBe(at('2026-11-01T06:00:00Z')); // 01:40 EDT → 01:00 EST
    // Clocks jump back into a window that opened before the repeated hour: open again at the jump.
    const straddling = schedule({ timezone: 'America/New_York', from: '00:30', to: '01:15' });
    expect(straddling('2026-11-01T05:20:00Z')?.opens_at).toBe(at('2026-11-01T06:00:00Z'));
    expect(straddling('2026-11-01T06:00:00Z')).toBeUndefined();
  });
});
