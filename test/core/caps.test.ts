import { describe, expect, it } from 'vitest';
import { checkCaps, compileCaps, NO_CAPS } from '../../pipeline/core/caps.ts';
import { decide } from '../../pipeline/core/decide.ts';
import { explain } from '../../pipeline/core/explain.ts';
import type { MessageInput } from '../../pipeline/core/message-schema.ts';
import { CHANNELS } from '../../pipeline/core/message-schema.ts';
import type { RecentList } from '../../pipeline/core/caps.ts';
import type { RecentSend, UserState } from '../../pipeline/core/user-state.ts';
import { recentSends } from '../../pipeline/core/user-state.ts';
import {
  at,
  caps,
  DAY,
  HOUR,
  index,
  message,
  MINUTE,
  nth,
  run,
  track,
  verdicts,
  withReason,
  reachable,
} from './builders.ts';

const T0 = at('2026-01-05T12:00:00Z');

/** Messages a, b, c… on `evt`, all candidates of every entry, in id order (same priority). */
const messages = (...overrides: Partial<MessageInput>[]) =>
  index(...overrides.map((o, i) => message({ id: String.fromCharCode(97 + i), ...o })));

/** One entry per time, each triggering a single message whose trigger event is its own id. */
function sends(times: readonly number[], ids: readonly string[]): ReturnType<typeof track>[] {
  return times.map((received_at, i) => track({ received_at, name: ids[i % ids.length] ?? 'evt' }));
}

describe('compileCaps', () => {
  it('lists the caps applying to each channel and how long each channel’s sends matter', () => {
    const compiled = caps({ max: 3, per: '1d' }, { max: 1, per: '1w', channel: 'sms' });
    expect(compiled.byChannel.sms).toHaveLength(2);
    expect(compiled.byChannel.push).toEqual([{ max: 3, per: DAY }]);
    expect(compiled.horizon.sms).toBe(7 * DAY);
    expect(compiled.horizon.push).toBe(DAY);
  });

  it('no caps: nothing applies and nothing is kept', () => {
    for (const channel of CHANNELS) {
      expect(NO_CAPS.byChannel[channel]).toEqual([]);
      expect(NO_CAPS.horizon[channel]).toBe(0);
    }
  });
});

const recentOf = (state: UserState | undefined): RecentSend[] =>
  state === undefined ? [] : recentSends(state);

describe('checkCaps', () => {
  const recent = (...list: [number, RecentSend['channel']][]): RecentList => list.flat();

  it('the window is (at - per, at]', () => {
    const compiled = compileCaps([{ max: 1, per: HOUR }]);
    expect(checkCaps(compiled, 'push', recent([T0, 'push']), T0 + HOUR)).toBeUndefined();
    expect(checkCaps(compiled, 'push', recent([T0, 'push']), T0 + HOUR - 1)).toEqual({
      cap: { max: 1, per: HOUR },
      sends_in_window: 1,
      eligible_at: T0 + HOUR,
    });
  });

  it('eligible_at is when enough sends leave the window', () => {
    const compiled = compileCaps([{ max: 2, per: DAY }]);
    const blocked = checkCaps(
      compiled,
      'push',
      recent([T0, 'push'], [T0 + HOUR, 'push'], [T0 + 2 * HOUR, 'email']),
      T0 + 3 * HOUR,
    );
    expect(blocked).toEqual({ cap: { max: 2, per: DAY }, sends_in_window: 3, eligible_at: T0 + HOUR + DAY });
  });

  it('a channel cap counts only its channel', () => {
    const compiled = compileCaps([{ max: 1, per: DAY, channel: 'sms' }]);
    expect(checkCaps(compiled, 'sms', recent([T0, 'push'], [T0, 'email']), T0 + 1)).toBeUndefined();
    expect(checkCaps(compiled, 'sms', recent([T0, 'sms']), T0 + 1)?.sends_in_window).toBe(1);
    expect(checkCaps(compiled, 'push', recent([T0, 'sms'], [T0, 'sms']), T0 + 1)).toBeUndefined();
  });

  it('several blocking caps: the first in the list is reported, eligible when all let through', () => {
    const compiled = compileCaps([
      { max: 1, per: HOUR },
      { max: 1, per: DAY, channel: 'sms' },
    ]);
    expect(checkCaps(compiled, 'sms', recent([T0, 'sms']), T0 + 1)).toEqual({
      cap: { max: 1, per: HOUR },
      sends_in_window: 1,
      eligible_at: T0 + DAY,
    });
  });

  it('max 0 blocks every send and never lets one through', () => {
    const compiled = compileCaps([
      { max: 0, per: DAY, channel: 'webhook' },
      { max: 5, per: HOUR },
    ]);
    expect(checkCaps(compiled, 'webhook', [], T0)).toEqual({
      cap: { max: 0, per: DAY, channel: 'webhook' },
      sends_in_window: 0,
      eligible_at: null,
    });
    expect(checkCaps(compiled, 'push', [], T0)).toBeUndefined();
  });
});

describe('global caps in decide', () => {
  it('at most 2 sends per user per 1d across messages', () => {
    const rules = messages(
      { trigger: { event: 'a' } },
      { trigger: { event: 'b' } },
      { trigger: { event: 'c' } },
    );
    const { decisions } = run(
      sends([T0, T0 + HOUR, T0 + 2 * HOUR, T0 + DAY, T0 + DAY + HOUR], ['a', 'b', 'c']),
      rules,
      caps({ max: 2, per: '1d' }),
    );
    expect(verdicts(decisions)).toEqual(['sent', 'sent', 'suppressed:global_cap', 'sent', 'sent']);
    expect(withReason(nth(decisions, 2), 'global_cap').explanation).toEqual({
      cap: { max: 2, per: DAY },
      sends_in_window: 2,
      eligible_at: T0 + DAY,
    });
  });

  it('counts per user', () => {
    const { decisions } = run(
      [track({ received_at: T0 }), track({ received_at: T0, user_id: 'u2' }), track({ received_at: T0 + 1 })],
      messages({}),
      caps({ max: 1, per: '1h' }),
    );
    expect(verdicts(decisions)).toEqual(['sent', 'sent', 'suppressed:global_cap']);
  });

  it('a channel cap counts only that channel’s sends and applies only to messages of that channel', () => {
    const rules = messages(
      { channel: 'sms', trigger: { event: 'sms' } },
      { channel: 'push', trigger: { event: 'push' } },
    );
    const cap = caps({ max: 1, per: '1w', channel: 'sms' });
    const { decisions } = run(
      [
        ...reachable(),
        track({ received_at: T0, name: 'push' }),
        track({ received_at: T0 + 1, name: 'sms' }), // push sends do not count toward the sms cap
        track({ received_at: T0 + 2, name: 'push' }), // the sms cap does not apply to push
        track({ received_at: T0 + 3, name: 'sms' }),
        track({ received_at: T0 + 7 * DAY + 1, name: 'sms' }),
      ],
      rules,
      cap,
    );
    expect(decisions.map((d) => `${d.channel}:${d.reason ?? 'sent'}`)).toEqual([
      'push:sent',
      'sms:sent',
      'push:sent',
      'sms:global_cap',
      'sms:sent',
    ]);
  });

  it('a global cap counts every channel, a channel cap its own, together', () => {
    const rules = messages(
      { channel: 'sms', trigger: { event: 'sms' } },
      { channel: 'email', trigger: { event: 'email' } },
    );
    const cap = caps({ max: 2, per: '1d' }, { max: 1, per: '1d', channel: 'sms' });
    const { decisions } = run(
      [
        ...reachable(),
        track({ received_at: T0, name: 'sms' }),
        track({ received_at: T0 + 1, name: 'sms' }),
        track({ received_at: T0 + 2, name: 'email' }),
        track({ received_at: T0 + 3, name: 'email' }),
      ],
      rules,
      cap,
    );
    expect(verdicts(decisions)).toEqual(['sent', 'suppressed:global_cap', 'sent', 'suppressed:global_cap']);
    expect(withReason(nth(decisions, 1), 'global_cap').explanation.cap).toEqual({
      max: 1,
      per: DAY,
      channel: 'sms',
    });
    expect(withReason(nth(decisions, 3), 'global_cap').explanation.cap).toEqual({ max: 2, per: DAY });
  });

  it('global_cap_exempt messages neither check nor count', () => {
    const rules = messages(
      { id: 'receipt', global_cap_exempt: true, trigger: { event: 'receipt' } },
      { id: 'promo', trigger: { event: 'promo' } },
    );
    const cap = caps({ max: 1, per: '1d' });
    const { decisions, states } = run(
      [
        track({ received_at: T0, name: 'receipt' }),
        track({ received_at: T0 + 1, name: 'receipt' }),
        track({ received_at: T0 + 2, name: 'promo' }), // exempt sends did not count
        track({ received_at: T0 + 3, name: 'receipt' }), // the full cap does not stop it
        track({ received_at: T0 + 4, name: 'promo' }),
      ],
      rules,
      cap,
    );
    expect(decisions.map((d) => `${d.message_id}:${d.reason ?? 'sent'}`)).toEqual([
      'receipt:sent',
      'receipt:sent',
      'promo:sent',
      'receipt:sent',
      'promo:global_cap',
    ]);
    expect(recentOf(states.get('u1'))).toEqual([{ at: T0 + 2, channel: 'banner' }]);
  });

  it('sends for earlier candidates of one entry count, in priority order', () => {
    const rules = index(
      message({ id: 'low', priority: -1 }),
      message({ id: 'high', priority: 5, channel: 'sms' }),
      message({ id: 'mid', channel: 'sms' }),
      message({ id: 'exempt', priority: 9, global_cap_exempt: true }),
    );
    const { decisions } = run(
      [...reachable(), track({ received_at: T0 })],
      rules,
      caps({ max: 2, per: '1h' }, { max: 1, per: '1h', channel: 'sms' }),
    );
    expect(decisions.map((d) => `${d.message_id}:${d.reason ?? 'sent'}`)).toEqual([
      'exempt:sent',
      'high:sent',
      'mid:global_cap',
      'low:sent',
    ]);
  });

  it('max 0 suppresses every counted send; explain says it never lets one through', () => {
    const { decisions } = run([track({ received_at: T0 })], messages({}), caps({ max: 0, per: '1d' }));
    const decision = withReason(nth(decisions, 0), 'global_cap');
    expect(decision.explanation.eligible_at).toBeNull();
    expect(explain(decision)).toContain('never lets a send through');
  });

  it('old sends are forgotten once neither the newest max nor the window from the newest send holds them', () => {
    const rules = messages({});
    const cap = caps({ max: 2, per: '1h' });
    const times = [0, 10, 20, 70, 75, 80, 130, 131, 200].map((m) => T0 + m * MINUTE);
    const { decisions, states } = run(sends(times, ['evt']), rules, cap);
    expect(verdicts(decisions)).toEqual([
      'sent', // 0
      'sent', // 10
      'suppressed:global_cap', // 20: (-40, 20] holds 0 and 10
      'sent', // 70: (10, 70] holds none
      'sent', // 75: (15, 75] holds 70
      'suppressed:global_cap', // 80: (20, 80] holds 70 and 75
      'sent', // 130: (70, 130] holds 75
      'suppressed:global_cap', // 131: (71, 131] holds 75 and 130
      'sent', // 200: (140, 200] holds none
    ]);
    // The 2 newest counted sends are kept (an entry stamped before 200 may still need 130), nothing older.
    expect(recentOf(states.get('u1')).map((r) => (r.at - T0) / MINUTE)).toEqual([130, 200]);
  });

  it('a send stamped slightly out of order never lets a window hold more than max', () => {
    // Ingest clocks may disagree: sends at 0 and 1 ms, then 1 h + 1 ms, then an entry stamped 1 h - 1 ms.
    // The window (-1 ms, 1 h - 1 ms] of the last one already holds two sends (0 and 1): suppressed.
    const rules = messages({});
    const cap = caps({ max: 2, per: '1h' });
    const { decisions } = run(sends([T0, T0 + 1, T0 + HOUR + 1, T0 + HOUR - 1], ['evt']), rules, cap);
    expect(verdicts(decisions)).toEqual(['sent', 'sent', 'sent', 'suppressed:global_cap']);
  });

  it('an exempt send does not make the cap forget a counted send an out-of-order entry still sees', () => {
    const rules = index(
      message({ id: 'counted' }),
      message({ id: 'receipt', global_cap_exempt: true, trigger: { event: 'receipt' } }),
    );
    const { decisions } = run(
      [
        track({ received_at: T0 }),
        track({ received_at: T0 + 2_000, name: 'receipt' }),
        track({ received_at: T0 + 1_999 }), // (T0 - 1, T0 + 1999] holds the send at T0
      ],
      rules,
      caps({ max: 1, per: '2s' }),
    );
    expect(verdicts(decisions)).toEqual(['sent', 'sent', 'suppressed:global_cap']);
  });

  it('a send on another channel does not make a channel cap forget its own sends', () => {
    const rules = index(
      message({ id: 's', channel: 'sms' }),
      message({ id: 'p', channel: 'push', trigger: { event: 'push' } }),
    );
    const { decisions } = run(
      [
        ...reachable(),
        track({ received_at: T0 }),
        track({ received_at: T0 + 10_000, name: 'push' }),
        track({ received_at: T0 + 9_999 }), // (T0 - 1, T0 + 9999] holds the sms send at T0
      ],
      rules,
      caps({ max: 1, per: '10s', channel: 'sms' }),
    );
    expect(verdicts(decisions)).toEqual(['sent', 'sent', 'suppressed:global_cap']);
  });
});

describe('eligible_at through decide', () => {
  it('a user blocked by a cap is sent at eligible_at and not 1 ms before', () => {
    const rules = messages({});
    const cap = caps({ max: 2, per: '1d' }, { max: 3, per: '1w' });
    const first = run(sends([T0, T0 + HOUR, T0 + 2 * HOUR], ['evt']), rules, cap);
    const blocked = withReason(nth(first.decisions, 2), 'global_cap');
    const eligible = blocked.explanation.eligible_at;
    expect(eligible).toBe(T0 + DAY);
    if (eligible === null) return;
    const state = first.states.get('u1');
    expect(verdicts(decide(state, track({ received_at: eligible - 1 }), rules, cap).decisions)).toEqual([
      'suppressed:global_cap',
    ]);
    expect(verdicts(decide(state, track({ received_at: eligible }), rules, cap).decisions)).toEqual(['sent']);
  });
});
