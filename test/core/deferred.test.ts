/**
 * Held sends (`schedule.outside: "defer"`) and eligibility as a fixed point (issue #18), worked out
 * by hand. Times are UTC; 2026-12-07 is a Monday.
 */
import { describe, expect, it } from 'vitest';
import type { Day, MessageInput } from '../../pipeline/core/message-schema.ts';
import { MessageSchema } from '../../pipeline/core/message-schema.ts';
import { eligibility } from '../../pipeline/core/eligibility.ts';
import { explain } from '../../pipeline/core/explain.ts';
import {
  at,
  caps,
  identify,
  index,
  message,
  NONE,
  nth,
  only,
  run,
  track,
  verdicts,
  withReason,
} from './builders.ts';

const nineToSix = { timezone: 'UTC', from: '09:00', to: '18:00', outside: 'defer' } as const;
const hourly = (overrides: Partial<MessageInput> = {}) =>
  message({ id: 'upload-ready', schedule: nineToSix, frequency: { min_interval: '1h' }, ...overrides });

describe('held sends: an entry outside the window is decided for its next opening', () => {
  it('an event at 23:00 is sent at 09:00 the next day; one at 23:30 is suppressed by min_interval 1h against that send', () => {
    const rules = index(hourly());
    const { decisions, states } = run(
      [
        track({ received_at: at('2026-12-07T23:00:00Z') }),
        track({ received_at: at('2026-12-07T23:30:00Z') }),
      ],
      rules,
    );
    const held = withReason(nth(decisions, 0), null);
    expect(held.deliver_at).toBe(at('2026-12-08T09:00:00Z'));
    expect(held.at).toBe(at('2026-12-07T23:00:00Z'));
    expect(held.content.body).toBe('hi'); // rendered now, with the entry's facts
    expect(explain(held)).toBe(
      'sent, held for the schedule: it comes outside the window, and every rule passes for its delivery at 2026-12-08T09:00:00.000Z',
    );
    // Its own time would be 09:00 too: 0 ms after the held send, less than the hour.
    const second = withReason(nth(decisions, 1), 'min_interval');
    expect(second.explanation).toEqual({
      last_sent_at: at('2026-12-08T09:00:00Z'),
      min_interval: 3_600_000,
      eligible_at: at('2026-12-08T10:00:00Z'),
      deferred_to: at('2026-12-08T09:00:00Z'),
    });
    expect(explain(second)).toBe(
      'suppressed (outside the schedule, checked for delivery at 2026-12-08T09:00:00.000Z): last sent at 2026-12-08T09:00:00.000Z, less than the minimum interval of 1h before; eligible again at 2026-12-08T10:00:00.000Z',
    );
    // The state counts the held send at its delivery time.
    expect(states.get('u1')?.sends).toEqual(['upload-ready', 1, at('2026-12-08T09:00:00Z')]);
  });

  it('an entry inside the window is sent at once, with no deliver_at; with outside "suppress" (the default) one outside is suppressed', () => {
    const open = only(run([track({ received_at: at('2026-12-07T10:00:00Z') })], index(hourly())).decisions);
    expect(open).not.toHaveProperty('deliver_at');
    const dropped = message({ schedule: { ...nineToSix, outside: 'suppress' } });
    expect(
      verdicts(run([track({ received_at: at('2026-12-07T23:00:00Z') })], index(dropped)).decisions),
    ).toEqual(['suppressed:schedule']);
    const byDefault = { timezone: 'UTC', from: '09:00', to: '18:00' };
    expect(
      verdicts(
        run([track({ received_at: at('2026-12-07T23:00:00Z') })], index(message({ schedule: byDefault })))
          .decisions,
      ),
    ).toEqual(['suppressed:schedule']);
  });

  it('a cap of 1 a day blocks an immediate send of another message whose window would then hold two', () => {
    const rules = index(hourly(), message({ id: 'tip', trigger: { event: 'tip' } }));
    const perDay = caps({ max: 1, per: '1d' });
    const { decisions } = run(
      [
        track({ received_at: at('2026-12-07T23:00:00Z') }), // upload-ready held for 09:00 on the 8th
        track({ name: 'tip', received_at: at('2026-12-07T23:45:00Z') }),
      ],
      rules,
      perDay,
    );
    expect(withReason(nth(decisions, 0), null).deliver_at).toBe(at('2026-12-08T09:00:00Z'));
    // Sent at 23:45, the tip would share the day (2026-12-07T09:00, 2026-12-08T09:00] with the held send.
    const tip = withReason(nth(decisions, 1), 'global_cap');
    expect(tip.explanation).toMatchObject({ sends_in_window: 1, eligible_at: at('2026-12-09T09:00:00Z') });
  });

  it('a cap counts only the windows that hold the send: an hourly cap lets the 23:45 send through beside a 09:00 one', () => {
    const rules = index(hourly(), message({ id: 'tip', trigger: { event: 'tip' } }));
    const { decisions } = run(
      [
        track({ received_at: at('2026-12-07T23:00:00Z') }),
        track({ name: 'tip', received_at: at('2026-12-07T23:45:00Z') }),
        track({ name: 'tip', received_at: at('2026-12-08T08:30:00Z') }), // (08:00, 09:00] would hold two
      ],
      rules,
      caps({ max: 1, per: '1h' }),
    );
    expect(verdicts(decisions)).toEqual(['sent', 'sent', 'suppressed:global_cap']);
    expect(withReason(nth(decisions, 2), 'global_cap').explanation.eligible_at).toBe(
      at('2026-12-08T10:00:00Z'),
    );
  });

  it('a held send is checked against the caps as they will be at delivery, and later sends count it', () => {
    const rules = index(hourly({ frequency: {} }));
    const { decisions } = run(
      [
        track({ received_at: at('2026-12-07T20:00:00Z') }),
        track({ received_at: at('2026-12-07T21:00:00Z') }),
        track({ received_at: at('2026-12-08T09:30:00Z') }),
      ],
      rules,
      caps({ max: 2, per: '1h' }),
    );
    // Both held for 09:00; the third, at 09:30, would make three in (08:30, 09:30].
    expect(verdicts(decisions)).toEqual(['sent', 'sent', 'suppressed:global_cap']);
    const third = withReason(nth(decisions, 2), 'global_cap');
    expect(third.explanation).not.toHaveProperty('deferred_to');
    expect(third.explanation.eligible_at).toBe(at('2026-12-08T10:00:00Z'));
  });

  it('a window that opens later than defer_max allows (or never) suppresses by the schedule, and says so', () => {
    const weekdays: Day[] = ['mon', 'tue', 'wed', 'thu', 'fri'];
    const rules = index(hourly({ schedule: { ...nineToSix, days: weekdays } }));
    // Friday 2026-12-11 19:00: the next opening is Monday 09:00, more than a day away.
    const friday = withReason(
      only(run([track({ received_at: at('2026-12-11T19:00:00Z') })], rules).decisions),
      'schedule',
    );
    expect(friday.explanation).toMatchObject({ opens_at: at('2026-12-14T09:00:00Z'), defer_max: 86_400_000 });
    expect(explain(friday)).toBe(
      'suppressed by the schedule: it was fri 19:00 in UTC, outside the window; it opens again at 2026-12-14T09:00:00.000Z, later than defer_max (1d) allows a send to be held',
    );
    const patient = index(hourly({ schedule: { ...nineToSix, days: weekdays, defer_max: '3d' } }));
    const held = withReason(
      only(run([track({ received_at: at('2026-12-11T19:00:00Z') })], patient).decisions),
      null,
    );
    expect(held.deliver_at).toBe(at('2026-12-14T09:00:00Z'));
  });

  it("held for the window in the user's own zone", () => {
    const rules = index(hourly({ schedule: { ...nineToSix, timezone: 'user' } }));
    // 2026-12-07T23:00Z is 08:00 on the 8th in Tokyo: held for 09:00 there, 00:00 UTC.
    const { decisions } = run(
      [identify({ timezone: 'Asia/Tokyo' }), track({ received_at: at('2026-12-07T23:00:00Z') })],
      rules,
    );
    expect(withReason(only(decisions), null).deliver_at).toBe(at('2026-12-08T00:00:00Z'));
  });

  it('the message language refuses defer_max without defer, and a defer_max of 0', () => {
    const problems = (schedule: unknown) =>
      MessageSchema.safeParse({ ...hourlyInput(), schedule }).error?.issues.map((i) => i.message);
    expect(problems({ defer_max: '1h' })).toEqual([
      'only with outside "defer": a schedule that suppresses outside its window holds nothing',
    ]);
    expect(problems({ outside: 'defer', defer_max: 0 })).toEqual(['defer_max must be longer than 0']);
    expect(problems({ outside: 'later' })).toEqual([
      'unknown schedule.outside "later": use one of suppress, defer',
    ]);
    // Not given, the new fields stay out of the parsed message: stored messages read as before.
    expect(MessageSchema.parse({ ...hourlyInput(), schedule: {} }).schedule).toEqual({
      timezone: 'UTC',
      from: '00:00',
      to: '24:00',
    });
  });
});

const hourlyInput = () => ({
  id: 'm',
  channel: 'banner',
  state: 'live',
  trigger: { event: 'evt' },
  template: { body: 'hi' },
});

describe('eligibility: the first time every check passes together', () => {
  it('after a send held for 09:00, a question at 23:30 is answered 10:00: the window opens at 09:00, min_interval holds until 10:00', () => {
    const live = hourly();
    const { states } = run([track({ received_at: at('2026-12-07T23:00:00Z') })], index(live));
    const answer = eligibility(states.get('u1'), live, NONE, 'u1', at('2026-12-07T23:30:00Z'));
    expect(answer).toMatchObject({
      eligible: false,
      reason: 'schedule',
      eligible_at: at('2026-12-08T10:00:00Z'),
    });
    expect(answer.explanation).toBe(
      'suppressed by the schedule: it was mon 23:30 in UTC, outside the window; it opens again at 2026-12-08T09:00:00.000Z; with every check, first eligible at 2026-12-08T10:00:00.000Z',
    );
  });

  it('a cap that frees the user at night waits for the next opening of the window', () => {
    const live = message({ id: 'tip', schedule: { timezone: 'UTC', from: '09:00', to: '18:00' } });
    const other = message({ id: 'other', trigger: { event: 'other' } });
    const perDay = caps({ max: 1, per: '1d' });
    const { states } = run(
      [track({ name: 'other', received_at: at('2026-12-07T20:00:00Z') })],
      index(other),
      perDay,
    );
    // The cap holds until 20:00 on the 8th, when the window is shut: the 9th at 09:00.
    const answer = eligibility(states.get('u1'), live, perDay, 'u1', at('2026-12-08T10:00:00Z'));
    expect(answer).toMatchObject({ reason: 'global_cap', eligible_at: at('2026-12-09T09:00:00Z') });
  });

  it('never: the reason is the check that never lets the user through, after the one that blocks now', () => {
    const live = hourly({ frequency: { max_sends: 1 } });
    const { states } = run([track({ received_at: at('2026-12-07T10:00:00Z') })], index(live));
    const answer = eligibility(states.get('u1'), live, NONE, 'u1', at('2026-12-07T23:00:00Z'));
    expect(answer).toMatchObject({ reason: 'max_sends', eligible_at: null });
    expect(answer.explanation).toBe(
      'suppressed by the schedule: it was mon 23:00 in UTC, outside the window; it opens again at 2026-12-08T09:00:00.000Z; and then suppressed: already sent 1 time to this user, and max_sends is 1; it will not be sent again',
    );
  });

  it('a user in Tokyo and one in Los Angeles, asked at the same instant, are eligible at their own 09:00', () => {
    const live = message({
      schedule: { timezone: 'user', days: ['mon', 'tue', 'wed', 'thu', 'fri'], from: '09:00', to: '18:00' },
    });
    const question = at('2026-12-07T00:30:00Z'); // Monday 09:30 in Tokyo, Sunday 16:30 in Los Angeles
    const state = (zone: string) => run([identify({ timezone: zone })], index(live)).states.get('u1');
    expect(eligibility(state('Asia/Tokyo'), live, NONE, 'u1', question).eligible).toBe(true);
    expect(eligibility(state('America/Los_Angeles'), live, NONE, 'u1', question)).toMatchObject({
      reason: 'schedule',
      eligible_at: at('2026-12-07T17:00:00Z'),
    });
  });
});
