import { describe, expect, it } from 'vitest';
import { decide } from '../../pipeline/core/decide.ts';
import type { Decision } from '../../pipeline/core/decision.ts';
import { REASONS } from '../../pipeline/core/decision.ts';
import type { MessageInput } from '../../pipeline/core/message-schema.ts';
import type { UserState } from '../../pipeline/core/user-state.ts';
import { EMPTY_USER_STATE, sendRecords } from '../../pipeline/core/user-state.ts';
import {
  at,
  caps,
  deepFreeze,
  HOUR,
  identify,
  index,
  message,
  MINUTE,
  NONE,
  nth,
  only,
  preferences,
  run,
  track,
  verdicts,
  withReason,
} from './builders.ts';

const T0 = at('2026-01-05T12:00:00Z'); // a Monday

describe('the reasons, in order', () => {
  // A message that fails every check at T0 + 1 minute, once the user got it at T0 (from a lenient version).
  const strict: Partial<MessageInput> = {
    trigger: { event: 'evt', where: { field: 'metadata.x', op: 'eq', value: 1 } },
    audience: { field: 'user.plan', op: 'eq', value: 'pro' },
    schedule: { timezone: 'UTC', days: ['sun'] },
    frequency: { min_interval: '1h', max_sends: 1 },
    channel: 'email',
  };
  const cap = caps({ max: 1, per: '1d' });
  /** After the send: the user opts out of email, or loses their address, or neither. */
  type After = 'opts out' | 'no address' | undefined;
  const stateAfterOneSend = (after?: After): UserState => {
    const lenient = index(message({ channel: 'email' }));
    const first = decide(undefined, identify({ plan: 'free', email: 'a@example.com' }), lenient, cap).state;
    const sent = decide(first, track({ received_at: T0 }), lenient, cap);
    expect(verdicts(sent.decisions)).toEqual(['sent']);
    if (after === 'opts out')
      return decide(sent.state, preferences({ channels: { email: false } }), lenient, cap).state;
    if (after === 'no address') return decide(sent.state, identify({ email: null }), lenient, cap).state;
    return sent.state;
  };

  type Row = readonly [string, Partial<MessageInput>, Record<string, 1 | 2>, boolean, string, After];
  const rows: readonly Row[] = [
    ['everything fails', strict, { x: 2 }, true, 'filtered:event_filter', 'opts out'],
    ['the trigger passes', strict, { x: 1 }, true, 'filtered:audience', 'opts out'],
    [
      'the audience passes',
      { ...strict, audience: undefined },
      { x: 1 },
      true,
      'suppressed:unsubscribed',
      'opts out',
    ],
    [
      'not opted out',
      { ...strict, audience: undefined },
      { x: 1 },
      true,
      'suppressed:unreachable',
      'no address',
    ],
    ['an address', { ...strict, audience: undefined }, { x: 1 }, true, 'suppressed:schedule', undefined],
    [
      'the schedule is open',
      { ...strict, audience: undefined, schedule: undefined },
      { x: 1 },
      true,
      'suppressed:max_sends',
      undefined,
    ],
    [
      'max_sends is unlimited',
      { ...strict, audience: undefined, schedule: undefined, frequency: { min_interval: '1h' } },
      { x: 1 },
      true,
      'suppressed:min_interval',
      undefined,
    ],
    [
      'no minimum interval',
      { ...strict, audience: undefined, schedule: undefined, frequency: {} },
      { x: 1 },
      true,
      'suppressed:global_cap',
      undefined,
    ],
    [
      'no global caps',
      { ...strict, audience: undefined, schedule: undefined, frequency: {} },
      { x: 1 },
      false,
      'sent',
      undefined,
    ],
  ];

  it.each(rows)('%s → %s', (_label, overrides, metadata, capped, expected, after) => {
    const rules = index(message(overrides));
    const entry = track({ received_at: T0 + MINUTE, metadata });
    const { decisions } = decide(stateAfterOneSend(after), entry, rules, capped ? cap : NONE);
    expect(verdicts(decisions)).toEqual([expected]);
  });

  it('every reason is produced by the table, in the order of REASONS', () => {
    const reasons = rows.map(([, , , , verdict]) => verdict.split(':')[1]).filter((r) => r !== undefined);
    expect(reasons).toEqual([...REASONS]);
  });

  it('filtered reasons are outcome filtered, the others suppressed', () => {
    for (const [, overrides, metadata, capped, , after] of rows) {
      const decision = only(
        decide(
          stateAfterOneSend(after),
          track({ received_at: T0 + MINUTE, metadata }),
          index(message(overrides)),
          capped ? cap : NONE,
        ).decisions,
      );
      const expected =
        decision.reason === null
          ? 'sent'
          : decision.reason === 'event_filter' || decision.reason === 'audience'
            ? 'filtered'
            : 'suppressed';
      expect(decision.outcome).toBe(expected);
    }
  });
});

describe('min_interval (the seed example)', () => {
  const rules = index(message({ frequency: { min_interval: '1h' } }));

  it('events at 0, 20, 40 and 60 minutes: the first and the fourth are sent', () => {
    const { decisions } = run(
      [0, 20, 40, 60].map((m) => track({ received_at: T0 + m * MINUTE })),
      rules,
    );
    expect(verdicts(decisions)).toEqual([
      'sent',
      'suppressed:min_interval',
      'suppressed:min_interval',
      'sent',
    ]);
    for (const decision of decisions.slice(1, 3)) {
      expect(withReason(decision, 'min_interval').explanation).toEqual({
        last_sent_at: T0,
        min_interval: HOUR,
        eligible_at: T0 + HOUR,
      });
    }
  });

  it('suppressed events never move the window', () => {
    const { decisions } = run(
      [0, 50, 59, 61, 100, 121].map((m) => track({ received_at: T0 + m * MINUTE })),
      rules,
    );
    expect(verdicts(decisions)).toEqual([
      'sent',
      'suppressed:min_interval',
      'suppressed:min_interval',
      'sent',
      'suppressed:min_interval',
      'sent',
    ]);
    expect(withReason(nth(decisions, 4), 'min_interval').explanation.eligible_at).toBe(T0 + 121 * MINUTE);
  });

  it('the boundary: 1 ms short is suppressed, exactly min_interval is sent', () => {
    expect(
      verdicts(run([track({ received_at: T0 }), track({ received_at: T0 + HOUR - 1 })], rules).decisions),
    ).toEqual(['sent', 'suppressed:min_interval']);
    expect(
      verdicts(run([track({ received_at: T0 }), track({ received_at: T0 + HOUR })], rules).decisions),
    ).toEqual(['sent', 'sent']);
  });

  it('an entry stamped before the last send (ingest clock skew) is suppressed', () => {
    const { decisions } = run([track({ received_at: T0 }), track({ received_at: T0 - 5 })], rules);
    expect(verdicts(decisions)).toEqual(['sent', 'suppressed:min_interval']);
  });

  it('is per user and per message', () => {
    const two = index(
      message({ id: 'a', frequency: { min_interval: '1h' } }),
      message({ id: 'b', frequency: { min_interval: '1h' } }),
    );
    const { decisions } = run(
      [
        track({ received_at: T0 }),
        track({ received_at: T0 + 1, user_id: 'u2' }),
        track({ received_at: T0 + 2 }),
      ],
      two,
    );
    expect(decisions.map((d) => `${d.user_id}/${d.message_id}:${d.reason ?? 'sent'}`)).toEqual([
      'u1/a:sent',
      'u1/b:sent',
      'u2/a:sent',
      'u2/b:sent',
      'u1/a:min_interval',
      'u1/b:min_interval',
    ]);
  });

  it('0 (the default) means no minimum interval', () => {
    const { decisions } = run([track({ received_at: T0 }), track({ received_at: T0 })], index(message()));
    expect(verdicts(decisions)).toEqual(['sent', 'sent']);
  });
});

describe('max_sends', () => {
  const entries = (n: number) => Array.from({ length: n }, (_, i) => track({ received_at: T0 + i * HOUR }));

  it('stops after max_sends sends', () => {
    const { decisions } = run(entries(4), index(message({ frequency: { max_sends: 2 } })));
    expect(verdicts(decisions)).toEqual(['sent', 'sent', 'suppressed:max_sends', 'suppressed:max_sends']);
    expect(withReason(nth(decisions, 3), 'max_sends').explanation).toEqual({ sends: 2, max_sends: 2 });
  });

  it('0 never sends', () => {
    const { decisions } = run(entries(2), index(message({ frequency: { max_sends: 0 } })));
    expect(verdicts(decisions)).toEqual(['suppressed:max_sends', 'suppressed:max_sends']);
    expect(withReason(nth(decisions, 0), 'max_sends').explanation).toEqual({ sends: 0, max_sends: 0 });
  });

  it('null is unlimited', () => {
    const { decisions } = run(entries(10), index(message({ frequency: { max_sends: null } })));
    expect(verdicts(decisions)).toEqual(Array<string>(10).fill('sent'));
  });

  it('is checked before min_interval', () => {
    const rules = index(message({ frequency: { max_sends: 1, min_interval: '1d' } }));
    const { decisions } = run([track({ received_at: T0 }), track({ received_at: T0 + 1 })], rules);
    expect(verdicts(decisions)).toEqual(['sent', 'suppressed:max_sends']);
  });

  it.each(['constructor', 'toString', 'valueOf', 'hasOwnProperty'])(
    'a message id named %s starts with no sends',
    (id) => {
      const rules = index(message({ id, frequency: { max_sends: 1, min_interval: '1h' } }));
      const { decisions } = run([track({ received_at: T0 }), track({ received_at: T0 + 2 * HOUR })], rules);
      expect(verdicts(decisions)).toEqual(['sent', 'suppressed:max_sends']);
    },
  );
});

describe('candidates', () => {
  it('only messages triggered by the entry name are candidates', () => {
    const rules = index(
      message({ id: 'a', trigger: { event: 'x' } }),
      message({ id: 'b', trigger: { event: 'y' } }),
    );
    expect(decide(undefined, track({ name: 'y' }), rules, NONE).decisions.map((d) => d.message_id)).toEqual([
      'b',
    ]);
    expect(decide(undefined, track({ name: 'z' }), rules, NONE).decisions).toEqual([]);
  });

  it('entries before live_since produce no decision', () => {
    const rules = index(message({ id: 'early', live_since: null }), message({ id: 'late', live_since: T0 }));
    const ids = (received_at: number) =>
      decide(undefined, track({ received_at }), rules, NONE).decisions.map((d) => d.message_id);
    expect(ids(T0 - 1)).toEqual(['early']);
    expect(ids(T0)).toEqual(['early', 'late']);
    expect(ids(T0 + 1)).toEqual(['early', 'late']);
  });

  it('an entry before live_since leaves the state as it was', () => {
    const rules = index(message({ live_since: T0 }));
    const state = run([identify({ plan: 'pro' })], rules).states.get('u1');
    const result = decide(state, track({ received_at: T0 - 1 }), rules, NONE);
    expect(result.decisions).toEqual([]);
    expect(result.state).toBe(state);
  });

  it.each(['draft', 'paused', 'stopped'] as const)('a %s message produces no decisions', (state) => {
    const rules = index(message({ id: 'off', state }), message({ id: 'on' }));
    const result = decide(EMPTY_USER_STATE, track(), rules, NONE);
    expect(result.decisions.map((d) => d.message_id)).toEqual(['on']);
    const alone = decide(EMPTY_USER_STATE, track(), index(message({ state })), NONE);
    expect(alone.decisions).toEqual([]);
    expect(alone.state).toBe(EMPTY_USER_STATE);
  });

  it('priority first (higher first), then id in code-unit order', () => {
    const rules = index(
      message({ id: 'a' }),
      message({ id: 'c', priority: -1 }),
      message({ id: 'a9' }),
      message({ id: 'B' }),
      message({ id: 'z', priority: 1 }),
      message({ id: 'a10' }),
      message({ id: 'Z', priority: 1 }),
    );
    expect(decide(undefined, track(), rules, NONE).decisions.map((d) => d.message_id)).toEqual([
      'Z',
      'z',
      'B',
      'a',
      'a10',
      'a9',
      'c',
    ]);
  });

  it('sends for earlier candidates of the same entry count toward the caps of later ones', () => {
    const cap = caps({ max: 1, per: '1d' });
    const rules = index(message({ id: 'first', priority: 1 }), message({ id: 'second' }));
    const { decisions } = run([track({ received_at: T0 })], rules, cap);
    expect(decisions.map((d) => `${d.message_id}:${d.reason ?? 'sent'}`)).toEqual([
      'first:sent',
      'second:global_cap',
    ]);
  });

  it('a filtered earlier candidate leaves the cap to later ones', () => {
    const cap = caps({ max: 1, per: '1d' });
    const rules = index(
      message({
        id: 'first',
        priority: 1,
        trigger: { event: 'evt', where: { field: 'metadata.x', op: 'exists' } },
      }),
      message({ id: 'second' }),
    );
    expect(verdicts(run([track({ received_at: T0 })], rules, cap).decisions)).toEqual([
      'filtered:event_filter',
      'sent',
    ]);
  });
});

describe('decision fields', () => {
  it('carries who, what, when and the rendered content', () => {
    const rules = index(
      message({
        id: 'upload-ready',
        version: 3,
        channel: 'email',
        template: { subject: 'Done', body: '{{ metadata.file }} is ready' },
      }),
    );
    const entry = track({ id: 'e1', user_id: 'u7', received_at: T0, metadata: { file: 'a.png' } });
    const addressed = decide(
      undefined,
      identify({ email: 'u7@example.com' }, { user_id: 'u7' }),
      rules,
      NONE,
    );
    const decision: Decision = only(decide(addressed.state, entry, rules, NONE).decisions);
    expect(decision).toEqual({
      decision_id: 'upload-ready:e1',
      entry_id: 'e1',
      message_id: 'upload-ready',
      message_version: 3,
      user_id: 'u7',
      channel: 'email',
      at: T0,
      outcome: 'sent',
      reason: null,
      content: { subject: 'Done', body: 'a.png is ready' },
      explanation: null,
    });
  });

  it('created_at is never used: received_at is the decision time', () => {
    const rules = index(message({ frequency: { min_interval: '1h' } }));
    const { decisions } = run(
      [
        track({ received_at: T0, created_at: T0 }),
        track({ received_at: T0 + 2 * HOUR, created_at: T0 + 1 }),
        track({ received_at: T0 + 2 * HOUR + 1, created_at: T0 + 10 * HOUR }),
      ],
      rules,
    );
    expect(verdicts(decisions)).toEqual(['sent', 'sent', 'suppressed:min_interval']);
    expect(decisions.map((d) => d.at)).toEqual([T0, T0 + 2 * HOUR, T0 + 2 * HOUR + 1]);
  });
});

describe('state', () => {
  const rules = index(
    message({
      id: 'a',
      priority: 2,
      trigger: { event: 'evt', where: { field: 'metadata.ok', op: 'eq', value: true } },
      frequency: { min_interval: '1h', max_sends: 3 },
    }),
    message({ id: 'b', priority: 1, audience: { field: 'user.plan', op: 'eq', value: 'pro' } }),
    message({ id: 'c', schedule: { timezone: 'UTC', days: ['sun'] } }),
  );
  const cap = caps({ max: 5, per: '1d' }, { max: 1, per: '1w', channel: 'sms' });

  it('decide never mutates its inputs (deep-frozen state, entry and index)', () => {
    const { states } = run(
      [identify({ plan: 'pro' }), track({ received_at: T0, metadata: { ok: true } })],
      rules,
      cap,
    );
    const state = JSON.parse(JSON.stringify(states.get('u1'))) as UserState;
    const snapshot = JSON.stringify(state);
    deepFreeze(state);
    for (const entry of [
      track({ received_at: T0 + 2 * HOUR, metadata: { ok: true } }),
      track({ received_at: T0 + MINUTE, metadata: { ok: true } }),
      track({ received_at: T0 + MINUTE, metadata: { ok: false } }),
      identify({ plan: null, name: 'A' }),
    ]) {
      const frozenEntry = deepFreeze(entry);
      const entryText = JSON.stringify(frozenEntry);
      const frozenRules = deepFreeze(rules);
      const frozenCaps = deepFreeze(cap);
      expect(() => decide(state, frozenEntry, frozenRules, frozenCaps)).not.toThrow();
      expect(JSON.stringify(state)).toBe(snapshot);
      expect(JSON.stringify(frozenEntry)).toBe(entryText);
    }
  });

  it('filtered and suppressed decisions leave sends, caps and attributes as they were: only the entry is recorded', () => {
    const { states } = run(
      [identify({ plan: 'free' }), track({ received_at: T0, metadata: { ok: true } })],
      rules,
    );
    const state = states.get('u1');
    const entry = track({ received_at: T0 + MINUTE, metadata: { ok: true } });
    const result = decide(state, entry, rules, NONE);
    expect(verdicts(result.decisions)).toEqual([
      'suppressed:min_interval',
      'filtered:audience',
      'suppressed:schedule',
    ]);
    const before = state ?? EMPTY_USER_STATE;
    expect(result.state.sends).toBe(before.sends);
    expect(result.state.recent).toBe(before.recent);
    expect(result.state.attributes).toBe(before.attributes);
    expect(result.state.applied.slice(-2)).toEqual([entry.id, T0 + MINUTE]);
  });

  it('with no state at all and no send, the state holds only the entry id', () => {
    const entry = track({ received_at: T0, metadata: { ok: false } });
    const result = decide(undefined, entry, rules, NONE);
    expect(result.decisions).toHaveLength(3);
    expect(result.state).toEqual({ ...EMPTY_USER_STATE, applied: [entry.id, T0] });
  });

  it('an entry no live message triggers changes nothing: the very same state comes back', () => {
    const result = decide(undefined, track({ name: 'nobody-listens', received_at: T0 }), rules, NONE);
    expect(result).toEqual({ state: EMPTY_USER_STATE, decisions: [], repeat: false });
    expect(result.state).toBe(EMPTY_USER_STATE);
  });

  it('a send records the count and last send of that message only', () => {
    const { states } = run(
      [
        track({ received_at: T0, metadata: { ok: true } }),
        track({ received_at: T0 + 2 * HOUR, metadata: { ok: true } }),
      ],
      rules,
    );
    expect(sendRecords(states.get('u1') ?? EMPTY_USER_STATE)).toEqual([
      { message_id: 'a', count: 2, last_at: T0 + 2 * HOUR },
    ]);
  });

  it('identify merges attributes, null removes a key, and produces no decisions', () => {
    const result1 = decide(undefined, identify({ plan: 'free', name: 'Ann', age: 30 }), rules, NONE);
    expect(result1.decisions).toEqual([]);
    const result2 = decide(result1.state, identify({ plan: 'pro', name: null, beta: true }), rules, NONE);
    expect(result2.decisions).toEqual([]);
    expect(result2.state.attributes).toEqual({ plan: 'pro', age: 30, beta: true });
    expect(result1.state.attributes).toEqual({ plan: 'free', name: 'Ann', age: 30 });
    const result3 = decide(result2.state, identify({ missing: null }), rules, NONE);
    expect(result3.state.attributes).toEqual({ plan: 'pro', age: 30, beta: true });
  });

  it('identify attributes are what audiences see on later entries', () => {
    const { decisions } = run(
      [
        track({ received_at: T0 }),
        identify({ plan: 'pro' }),
        track({ received_at: T0 + 1 }),
        identify({ plan: null }),
        track({ received_at: T0 + 2 }),
      ],
      index(message({ audience: { field: 'user.plan', op: 'eq', value: 'pro' } })),
    );
    expect(verdicts(decisions)).toEqual(['filtered:audience', 'sent', 'filtered:audience']);
  });

  it('a state round-tripped through JSON decides the same', () => {
    const log = [
      identify({ plan: 'pro' }),
      track({ received_at: T0, metadata: { ok: true } }),
      track({ received_at: T0 + 30 * MINUTE, metadata: { ok: true } }),
    ];
    const { states } = run(log, rules, cap);
    const copy = new Map([...states].map(([user, s]) => [user, JSON.parse(JSON.stringify(s)) as UserState]));
    const next = [track({ received_at: T0 + 50 * MINUTE, metadata: { ok: true } })];
    expect(JSON.stringify(run(next, rules, cap, copy).decisions)).toBe(
      JSON.stringify(run(next, rules, cap, states).decisions),
    );
  });
});
