import { describe, expect, it } from 'vitest';
import type { Decision, Reason } from '../../pipeline/core/decision.ts';
import { REASONS } from '../../pipeline/core/decision.ts';
import { describeFailure, explain } from '../../pipeline/core/explain.ts';
import {
  at,
  caps,
  HOUR,
  identify,
  index,
  message,
  MINUTE,
  nth,
  preferences,
  run,
  track,
} from './builders.ts';

const T0 = at('2026-01-05T12:00:00Z'); // a Monday

/** One decision per reason (and one sent), from real runs of the core. */
function decisionFor(reason: Reason | null): Decision {
  switch (reason) {
    case null:
      return nth(run([track({ received_at: T0 })], index(message())).decisions, 0);
    case 'event_filter': {
      const rules = index(
        message({
          trigger: {
            event: 'evt',
            where: {
              all: [
                { field: 'metadata.duration_s', op: 'gt', value: 120 },
                { field: 'context.url', op: 'contains', value: '/uploads' },
              ],
            },
          },
        }),
      );
      return nth(run([track({ received_at: T0, metadata: { duration_s: 30 } })], rules).decisions, 0);
    }
    case 'audience': {
      const rules = index(message({ audience: { field: 'user.plan', op: 'in', value: ['pro', 'team'] } }));
      return nth(run([identify({ plan: 'free' }), track({ received_at: T0 })], rules).decisions, 0);
    }
    case 'unsubscribed': {
      const rules = index(message({ channel: 'email' }));
      return nth(
        run([preferences({ channels: { email: false } }), track({ received_at: T0 })], rules).decisions,
        0,
      );
    }
    case 'unreachable':
      return nth(run([track({ received_at: T0 })], index(message({ channel: 'email' }))).decisions, 0);
    case 'schedule': {
      const rules = index(
        message({ schedule: { timezone: 'America/New_York', days: ['tue'], from: '09:00', to: '17:00' } }),
      );
      return nth(run([track({ received_at: T0 })], rules).decisions, 0);
    }
    case 'max_sends': {
      const rules = index(message({ frequency: { max_sends: 2 } }));
      return nth(
        run(
          [0, 1, 2].map((i) => track({ received_at: T0 + i })),
          rules,
        ).decisions,
        2,
      );
    }
    case 'min_interval': {
      const rules = index(message({ frequency: { min_interval: '1h' } }));
      return nth(
        run([track({ received_at: T0 }), track({ received_at: T0 + 20 * MINUTE })], rules).decisions,
        1,
      );
    }
    case 'global_cap': {
      const rules = index(message({ channel: 'sms' }));
      const cap = caps({ max: 1, per: '1d', channel: 'sms' });
      const log = [
        identify({ phone: '+15550001' }),
        track({ received_at: T0 }),
        track({ received_at: T0 + HOUR }),
      ];
      return nth(run(log, rules, cap).decisions, 1);
    }
  }
}

describe('explain', () => {
  it.each([null, ...REASONS])('gives a sentence for %s', (reason) => {
    const decision = decisionFor(reason);
    expect(decision.reason).toBe(reason);
    const sentence = explain(decision);
    expect(sentence.length).toBeGreaterThan(20);
    expect(sentence).not.toMatch(/undefined|NaN|\[object/);
  });

  it.each([
    [null, 'sent: every rule passed at 2026-01-05T12:00:00.000Z'],
    ['event_filter', "filtered by the trigger's conditions: metadata.duration_s was 30, expected > 120"],
    ['audience', 'filtered by the audience: user.plan was "free", expected one of ["pro","team"]'],
    ['unsubscribed', 'suppressed: the user opted out of email messages, and this one is not transactional'],
    ['unreachable', 'suppressed: the user has no email address (user.email), so an email cannot reach them'],
    [
      'schedule',
      'suppressed by the schedule: it was mon 07:00 in America/New_York, outside the window; it opens again at 2026-01-06T14:00:00.000Z',
    ],
    [
      'max_sends',
      'suppressed: already sent 2 times to this user, and max_sends is 2; it will not be sent again',
    ],
    [
      'min_interval',
      'suppressed: last sent at 2026-01-05T12:00:00.000Z, less than the minimum interval of 1h before; eligible again at 2026-01-05T13:00:00.000Z',
    ],
    [
      'global_cap',
      'suppressed by the global cap of 1 sms messages per 1d: 1 already sent in that window; eligible again at 2026-01-06T12:00:00.000Z',
    ],
  ] as const)('%s: %s', (reason, sentence) => {
    expect(explain(decisionFor(reason))).toBe(sentence);
  });

  it('one send is "1 time"', () => {
    const rules = index(message({ frequency: { max_sends: 1 } }));
    const decision = nth(
      run([track({ received_at: T0 }), track({ received_at: T0 + 1 })], rules).decisions,
      1,
    );
    expect(explain(decision)).toContain('already sent 1 time to this user');
  });

  it('a cap without a channel speaks of messages', () => {
    const rules = index(message());
    const { decisions } = run(
      [track({ received_at: T0 }), track({ received_at: T0 + 1 })],
      rules,
      caps({ max: 1, per: 90 * MINUTE }),
    );
    expect(explain(nth(decisions, 1))).toBe(
      'suppressed by the global cap of 1 messages per 90m: 1 already sent in that window; eligible again at 2026-01-05T13:30:00.000Z',
    );
  });
});

describe('describeFailure', () => {
  it.each([
    [{ field: 'metadata.a', op: 'gt', value: 5, actual: '6' }, 'metadata.a was "6", expected > 5'],
    [{ field: 'metadata.a', op: 'eq', value: 1, actual: undefined }, 'metadata.a was missing, expected = 1'],
    [{ field: 'user.a', op: 'neq', value: true, actual: true }, 'user.a was true, expected ≠ true'],
    [
      { field: 'user.a', op: 'exists', value: undefined, actual: undefined },
      'user.a was missing, expected to be present',
    ],
    [
      { field: 'user.a', op: 'not_exists', value: undefined, actual: 0 },
      'user.a was 0, expected to be missing',
    ],
    [
      { field: 'context.url', op: 'starts_with', value: '/a', actual: '/b' },
      'context.url was "/b", expected to start with "/a"',
    ],
    [
      { field: 'context.url', op: 'not_in', value: ['/b'], actual: '/b' },
      'context.url was "/b", expected none of ["/b"]',
    ],
  ] as const)('%j: %s', (failure, text) => {
    expect(describeFailure(failure)).toBe(text);
  });

  it('an any failure lists every branch', () => {
    expect(
      describeFailure({
        any: [
          { field: 'context.url', op: 'contains', value: '/uploads', actual: '/home' },
          { field: 'user.plan', op: 'eq', value: 'pro', actual: undefined },
        ],
      }),
    ).toBe(
      'none of these held: context.url was "/home", expected to contain "/uploads"; user.plan was missing, expected = "pro"',
    );
  });
});
