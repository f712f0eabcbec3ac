import { describe, expect, it } from 'vitest';
import { decide } from '../../pipeline/core/decide.ts';
import type { FlatObject } from '../../pipeline/core/scalar.ts';
import type { RecentSend, SendRecord, UserState } from '../../pipeline/core/user-state.ts';
import {
  applyAttributes,
  EMPTY_USER_STATE,
  recentSends,
  sendRecords,
} from '../../pipeline/core/user-state.ts';
import { caps, deepFreeze, HOUR, identify, index, message, NONE, run, track } from './builders.ts';

describe('attributes', () => {
  it('merge, and null removes a key', () => {
    const one = applyAttributes(EMPTY_USER_STATE, { plan: 'free', name: 'Ann' });
    const two = applyAttributes(one, { plan: 'pro', name: null, none: null });
    expect(two.attributes).toEqual({ plan: 'pro' });
    expect(one.attributes).toEqual({ plan: 'free', name: 'Ann' });
  });

  it('keep "__proto__" as a data key, through a JSON round trip too', () => {
    const attributes = JSON.parse('{"__proto__": "x", "constructor": 1}') as FlatObject;
    const state = decide(undefined, identify(attributes), index(), NONE).state;
    expect(Object.hasOwn(state.attributes, '__proto__')).toBe(true);
    expect(Object.getPrototypeOf(state.attributes)).toBe(Object.prototype);
    const copy = JSON.parse(JSON.stringify(state)) as UserState;
    expect(Object.hasOwn(copy.attributes, '__proto__')).toBe(true);
    const removed = decide(
      copy,
      identify(JSON.parse('{"__proto__": null}') as FlatObject),
      index(),
      NONE,
    ).state;
    expect(removed.attributes).toEqual({ constructor: 1 });
    expect(Object.hasOwn(removed.attributes, '__proto__')).toBe(false);
  });

  it('an identify never mutates the state it is given', () => {
    const state = deepFreeze(applyAttributes(EMPTY_USER_STATE, { a: 1 }));
    expect(() => decide(state, identify({ a: null, b: 2 }), index(), NONE)).not.toThrow();
    expect(state.attributes).toEqual({ a: 1 });
  });
});

const recordsOf = (state: UserState | undefined): SendRecord[] =>
  state === undefined ? [] : sendRecords(state);
const recentOf = (state: UserState | undefined): RecentSend[] =>
  state === undefined ? [] : recentSends(state);

describe('sends in the state', () => {
  it('count sends and record the last one, per message', () => {
    const rules = index(message({ id: 'a' }), message({ id: 'b', trigger: { event: 'other' } }));
    const { states } = run([track({ received_at: 10 }), track({ received_at: 20 })], rules);
    expect(recordsOf(states.get('u1'))).toEqual([{ message_id: 'a', count: 2, last_at: 20 }]);
  });

  it('keep one record per message, in message id order, whatever order they were sent in', () => {
    const ids = ['m', 'B', 'a', 'constructor', 'z', '0'];
    const rules = index(...ids.map((id, i) => message({ id, priority: -i })));
    const { states } = run([track({ received_at: 10 }), track({ received_at: 20 })], rules);
    const records = recordsOf(states.get('u1'));
    expect(records.map((r) => r.message_id)).toEqual(['0', 'B', 'a', 'constructor', 'm', 'z']);
    expect(records.every((r) => r.count === 2 && r.last_at === 20)).toBe(true);
  });

  it('recent sends are kept while a cap can still count them, and only counted ones', () => {
    const rules = index(
      message({ id: 'counted' }),
      message({ id: 'exempt', global_cap_exempt: true, trigger: { event: 'exempt' } }),
    );
    const compiled = caps({ max: 5, per: '1h' });
    const { states } = run(
      [
        track({ received_at: 0 }),
        track({ received_at: HOUR / 2 }),
        track({ received_at: HOUR / 2 + 1, name: 'exempt' }),
      ],
      rules,
      compiled,
    );
    expect(recentOf(states.get('u1'))).toEqual([
      { at: 0, channel: 'banner' },
      { at: HOUR / 2, channel: 'banner' },
    ]);
    const later = run([track({ received_at: HOUR })], rules, compiled, states).states;
    // The 5 newest counted sends are kept whatever their age, so all three here.
    expect(recentOf(later.get('u1')).map((r) => r.at)).toEqual([0, HOUR / 2, HOUR]);
    const withOneKept = caps({ max: 1, per: '1h' });
    const pruned = run([track({ received_at: 3 * HOUR })], rules, withOneKept, later).states;
    // With max 1: the newest send, and those within an hour of it (none).
    expect(recentOf(pruned.get('u1')).map((r) => r.at)).toEqual([3 * HOUR]);
  });

  it('no recent sends are kept when no cap applies to the channel', () => {
    const { states } = run(
      [track({ received_at: 0 })],
      index(message()),
      caps({ max: 1, per: '1d', channel: 'sms' }),
    );
    expect(recentOf(states.get('u1'))).toEqual([]);
  });

  it('the state is plain JSON data', () => {
    const { states } = run(
      [identify({ plan: 'pro' }), track({ received_at: 5 })],
      index(message()),
      caps({ max: 1, per: '1d' }),
    );
    const state = states.get('u1');
    expect(JSON.parse(JSON.stringify(state)) as unknown).toEqual(state);
  });
});
