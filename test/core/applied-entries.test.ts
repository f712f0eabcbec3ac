import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  isRepeat,
  recordApplied,
  REPEAT_MAX_IDS,
  REPEAT_SKEW_MS,
  REPEAT_WINDOW_MS,
} from '../../pipeline/core/applied-entries.ts';
import { decide } from '../../pipeline/core/decide.ts';
import type { Decision } from '../../pipeline/core/decision.ts';
import type { LogEntry } from '../../pipeline/core/log-entry.ts';
import type { UserState } from '../../pipeline/core/user-state.ts';
import { EMPTY_USER_STATE, sendRecords, stateFromJson } from '../../pipeline/core/user-state.ts';
import { caps, identify, index, message, MINUTE, NONE, run, track } from './builders.ts';

const T0 = Date.UTC(2026, 0, 5, 10);

describe('the record of applied entries', () => {
  it('remembers an id for the window after its entry, not at its end', () => {
    const applied = recordApplied([], 'e1', T0);
    expect(isRepeat(applied, 'e1', T0)).toBe(true);
    expect(isRepeat(applied, 'e1', T0 + REPEAT_WINDOW_MS - 1)).toBe(true);
    expect(isRepeat(applied, 'e1', T0 + REPEAT_WINDOW_MS)).toBe(false);
    expect(isRepeat(applied, 'e2', T0)).toBe(false);
    // An ingest clock behind the first one's: still a repeat.
    expect(isRepeat(applied, 'e1', T0 - MINUTE)).toBe(true);
  });

  it('keeps the newest ids only, and none past the window of the newest entry and the skew allowed', () => {
    const edge = T0 + REPEAT_WINDOW_MS + REPEAT_SKEW_MS;
    let applied = recordApplied([], 'old', T0);
    applied = recordApplied(applied, 'later', edge - 1);
    expect(applied).toEqual(['old', T0, 'later', edge - 1]);
    applied = recordApplied(applied, 'late', edge);
    expect(applied).toEqual(['later', edge - 1, 'late', edge]);
    applied = [];
    for (let i = 0; i < REPEAT_MAX_IDS + 5; i++)
      applied = recordApplied(applied, `e${i}`, T0 + REPEAT_WINDOW_MS);
    expect(applied).toHaveLength(REPEAT_MAX_IDS * 2);
    expect(applied[0]).toBe('e5');
    expect(applied[applied.length - 2]).toBe(`e${REPEAT_MAX_IDS + 4}`);
  });

  it('never changes the list it is given', () => {
    const applied = Object.freeze(['e1', T0]);
    expect(recordApplied(applied, 'e2', T0 + 1)).toEqual(['e1', T0, 'e2', T0 + 1]);
    expect(applied).toEqual(['e1', T0]);
  });

  it('reads a state stored before the record existed as one with an empty record', () => {
    const stored = JSON.stringify({ attributes: { plan: 'pro' }, sends: ['m', 1, T0], recent: [] });
    expect(stateFromJson(stored)).toEqual({
      attributes: { plan: 'pro' },
      sends: ['m', 1, T0],
      recent: [],
      applied: [],
    });
  });
});

describe('decide drops an entry that repeats one with an effect', () => {
  const rules = index(message({ id: 'm', frequency: { min_interval: '1h', max_sends: null } }));

  it('a track entry sent again: no second decision, and the state is the very same', () => {
    const first = track({ received_at: T0 });
    const once = decide(undefined, first, rules, NONE);
    expect(once.decisions).toHaveLength(1);
    expect(once.repeat).toBe(false);
    const again = decide(once.state, { ...first, received_at: T0 + MINUTE }, rules, NONE);
    expect(again).toEqual({ state: once.state, decisions: [], repeat: true });
    expect(again.state).toBe(once.state);
  });

  it('a filtered entry sent again is dropped too: one decision per entry and message', () => {
    const filtering = index(
      message({ id: 'm', trigger: { event: 'evt', where: { field: 'metadata.ok', op: 'eq', value: true } } }),
    );
    const first = track({ received_at: T0 });
    const { decisions, states } = run([first, { ...first, received_at: T0 + 1 }], filtering);
    expect(decisions.map((d) => d.outcome)).toEqual(['filtered']);
    expect(states.get('u1')?.applied).toEqual([first.id, T0]);
  });

  it('an identify entry sent again after a newer one does not bring its attributes back', () => {
    const pro = identify({ plan: 'pro' }, { received_at: T0 });
    const free = identify({ plan: 'free' }, { received_at: T0 + 1 });
    const { states } = run([pro, free, { ...pro, received_at: T0 + 2 }], rules);
    expect(states.get('u1')?.attributes).toEqual({ plan: 'free' });
  });

  it('the same id from another user is another entry', () => {
    const first = track({ received_at: T0 });
    const { decisions } = run([first, { ...first, user_id: 'u2' }], rules);
    expect(decisions.map((d) => d.user_id)).toEqual(['u1', 'u2']);
  });

  it('past the window, the same id is a new entry', () => {
    const first = track({ received_at: T0 });
    const later = { ...first, received_at: T0 + REPEAT_WINDOW_MS };
    const { decisions, states } = run([first, later], rules);
    expect(decisions.map((d) => d.outcome)).toEqual(['sent', 'sent']);
    expect(sendRecords(states.get('u1') ?? EMPTY_USER_STATE)).toEqual([
      { message_id: 'm', count: 2, last_at: T0 + REPEAT_WINDOW_MS },
    ]);
  });

  it('an entry no live message triggers leaves no record: a copy of it is decided afresh', () => {
    const first = track({ name: 'unheard', received_at: T0 });
    const listening = index(message({ id: 'm', trigger: { event: 'unheard' }, live_since: T0 + 1 }));
    const { decisions } = run([first, { ...first, received_at: T0 + 2 }], listening);
    expect(decisions.map((d) => d.at)).toEqual([T0 + 2]);
  });
});

/** Traffic over two users with limits that bite, so that repeats would show if they counted. */
const rulesWithLimits = index(
  message({ id: 'a', trigger: { event: 'e1' }, frequency: { min_interval: '10m', max_sends: 3 } }),
  message({ id: 'b', trigger: { event: 'e1' }, channel: 'sms', priority: 1 }),
  message({
    id: 'c',
    trigger: { event: 'e2', where: { field: 'metadata.x', op: 'gt', value: 1 } },
    audience: { field: 'user.plan', op: 'eq', value: 'pro' },
  }),
);
const limits = caps({ max: 2, per: '1h' }, { max: 1, per: '1d', channel: 'sms' });

const entryArb = fc.record({
  user: fc.constantFrom('u1', 'u2'),
  kind: fc.constantFrom('e1', 'e2', 'e3', 'identify'),
  x: fc.integer({ min: 0, max: 3 }),
  step: fc.integer({ min: 0, max: 20 * MINUTE }),
});

type Item = { readonly user: string; readonly kind: string; readonly x: number; readonly step: number };

function logOf(items: readonly Item[]): LogEntry[] {
  let time = T0;
  return items.map((item, i) => {
    time += item.step;
    return item.kind === 'identify'
      ? identify(
          { plan: item.x > 1 ? 'pro' : 'free' },
          { id: `id${i}`, user_id: item.user, received_at: time },
        )
      : track({
          id: `id${i}`,
          name: item.kind,
          user_id: item.user,
          received_at: time,
          metadata: { x: item.x },
        });
  });
}

const decisionsOf = (log: readonly LogEntry[]): Decision[] => run(log, rulesWithLimits, limits).decisions;

describe('repeats, as properties', () => {
  it('copies of entries sent again later, within the window, change no decision', () => {
    fc.assert(
      fc.property(
        fc.array(entryArb, { minLength: 1, maxLength: 40 }),
        fc.array(fc.tuple(fc.nat(), fc.nat(), fc.integer({ min: -MINUTE, max: MINUTE })), { maxLength: 10 }),
        (items, copies) => {
          const log = logOf(items);
          const withCopies: LogEntry[] = [...log];
          for (const [which, where, skew] of copies) {
            const original = log[which % log.length] as LogEntry;
            const after = withCopies.indexOf(original) + 1;
            const position = after + (where % (withCopies.length - after + 1));
            // The copy is stamped anew by ingestion, about when the newest entry before it was:
            // ingest clocks disagree by up to a minute (REPEAT_SKEW_MS), measured from the newest
            // stamp, not from another copy's (two skews in a row could put a copy more than a
            // minute behind the newest entry, which the contract does not cover: seed 1266909130
            // found one 60,001 ms behind). One stamped past the window is a new entry, not a copy.
            const newest = Math.max(...withCopies.slice(0, position).map((e) => e.received_at));
            const stamp = newest + skew;
            if (stamp >= original.received_at + REPEAT_WINDOW_MS) continue;
            withCopies.splice(position, 0, { ...original, received_at: stamp });
          }
          expect(decisionsOf(withCopies)).toEqual(decisionsOf(log));
        },
      ),
      { numRuns: 500 },
    );
  });

  it('a state round-tripped through JSON between any two entries keeps dropping repeats', () => {
    fc.assert(
      fc.property(fc.array(entryArb, { minLength: 2, maxLength: 30 }), fc.nat(), (items, cut) => {
        const log = logOf(items);
        const doubled = log.flatMap((entry) => [entry, { ...entry, received_at: entry.received_at + 1 }]);
        const at = cut % doubled.length;
        const head = run(doubled.slice(0, at), rulesWithLimits, limits);
        const stored = new Map<string, UserState>(
          [...head.states].map(([user, state]) => [user, stateFromJson(JSON.stringify(state))]),
        );
        const tail = run(doubled.slice(at), rulesWithLimits, limits, stored);
        expect([...head.decisions, ...tail.decisions]).toEqual(decisionsOf(log));
      }),
      { numRuns: 300 },
    );
  });
});
