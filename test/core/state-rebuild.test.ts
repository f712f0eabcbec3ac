import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { REPEAT_WINDOW_MS } from '../../pipeline/core/applied-entries.ts';
import { decide } from '../../pipeline/core/decide.ts';
import type { Decision } from '../../pipeline/core/decision.ts';
import type { LogEntry } from '../../pipeline/core/log-entry.ts';
import type { UserHistory } from '../../pipeline/core/state-rebuild.ts';
import { rebuildState } from '../../pipeline/core/state-rebuild.ts';
import type { UserState } from '../../pipeline/core/user-state.ts';
import {
  caps,
  HOUR,
  identify,
  index,
  message,
  MINUTE,
  preferences,
  pushSubscription,
  track,
  AUTH,
  P256DH,
} from './builders.ts';

const T0 = Date.UTC(2026, 0, 5, 10);
const rules = index(
  message({ id: 'a', trigger: { event: 'e1' }, frequency: { min_interval: '20m', max_sends: 4 } }),
  message({ id: 'b', trigger: { event: 'e1' }, channel: 'sms', priority: 1, global_cap_exempt: true }),
  message({
    id: 'c',
    trigger: { event: 'e2', where: { field: 'metadata.x', op: 'gt', value: 1 } },
    audience: { field: 'user.plan', op: 'eq', value: 'pro' },
  }),
);
const limits = caps({ max: 2, per: '1h' }, { max: 1, per: '1d', channel: 'sms' });
const exempt = new Set(['b']);

const itemArb = fc.record({
  user: fc.constantFrom('u1', 'u2'),
  kind: fc.constantFrom('e1', 'e2', 'e3', 'identify', 'repeat', 'preferences', 'push'),
  x: fc.integer({ min: 0, max: 3 }),
  step: fc.integer({ min: 0, max: 25 * MINUTE }),
});
type Item = { readonly user: string; readonly kind: string; readonly x: number; readonly step: number };

function logOf(items: readonly Item[]): LogEntry[] {
  let time = T0;
  const log: LogEntry[] = [];
  items.forEach((item, i) => {
    time += item.step;
    const earlier = log.filter((e) => e.user_id === item.user);
    const copied = earlier[item.x % Math.max(1, earlier.length)];
    if (item.kind === 'repeat' && copied !== undefined) log.push({ ...copied, received_at: time });
    else if (item.kind === 'identify')
      log.push(
        identify(
          { plan: item.x > 1 ? 'pro' : 'free', phone: item.x === 0 ? null : '+15550001' },
          { id: `id${i}`, user_id: item.user, received_at: time },
        ),
      );
    else if (item.kind === 'preferences')
      log.push(
        preferences(
          item.x % 2 === 0
            ? { channels: { sms: item.x === 0 ? false : null } }
            : { messages: { a: item.x === 1 ? false : true } },
          { id: `id${i}`, user_id: item.user, received_at: time },
        ),
      );
    else if (item.kind === 'push')
      log.push(
        pushSubscription(item.x > 1 ? 'add' : 'remove', item.x % 2, {
          id: `id${i}`,
          user_id: item.user,
          received_at: time,
        }),
      );
    else
      log.push(
        track({
          id: `id${i}`,
          name: item.kind === 'repeat' ? 'e1' : item.kind,
          user_id: item.user,
          received_at: time,
          metadata: { x: item.x },
        }),
      );
  });
  return log;
}

/** What the audit holds of a user's entries and decisions, as the replay reads it back. */
function historyOf(
  user: string,
  log: readonly LogEntry[],
  decisions: readonly Decision[][],
  at: number,
): UserHistory {
  const mine = log
    .map((entry, i) => ({ entry, made: decisions[i] ?? [] }))
    .filter(({ entry }) => entry.user_id === user);
  const sent = mine.flatMap(({ made }) => made.filter((d) => d.outcome === 'sent'));
  const sends = new Map<string, { message_id: string; count: number; last_at: number }>();
  for (const d of sent) {
    const known = sends.get(d.message_id);
    sends.set(d.message_id, { message_id: d.message_id, count: (known?.count ?? 0) + 1, last_at: d.at });
  }
  return {
    sends: [...sends.values()],
    recent: sent.filter((d) => !exempt.has(d.message_id)).map((d) => ({ at: d.at, channel: d.channel })),
    entries: mine
      .filter(({ entry }) => entry.type !== 'track' || entry.received_at > at - REPEAT_WINDOW_MS - MINUTE)
      .map(({ entry, made }) => ({
        id: entry.id,
        at: entry.received_at,
        effect: entry.type !== 'track' || made.length > 0,
        change: entry.type === 'track' ? undefined : entry,
      })),
  };
}

function decideAll(log: readonly LogEntry[], initial: ReadonlyMap<string, UserState>) {
  const states = new Map(initial);
  const decisions: Decision[][] = [];
  for (const entry of log) {
    const result = decide(states.get(entry.user_id), entry, rules, limits);
    states.set(entry.user_id, result.state);
    decisions.push([...result.decisions]);
  }
  return decisions;
}

describe('rebuildState', () => {
  it('rebuilds, from what the audit holds before any point, a state that decides the rest of the log as the live one did', () => {
    fc.assert(
      fc.property(fc.array(itemArb, { minLength: 2, maxLength: 45 }), fc.nat(), (items, cut) => {
        const log = logOf(items);
        const live = decideAll(log, new Map());
        const point = 1 + (cut % (log.length - 1));
        const head = log.slice(0, point);
        const at = (log[point] as LogEntry).received_at;
        const rebuilt = new Map(
          ['u1', 'u2'].map((user) => [user, rebuildState(historyOf(user, head, live.slice(0, point), at))]),
        );
        expect(decideAll(log.slice(point), rebuilt)).toEqual(live.slice(point));
      }),
      { numRuns: 1_000 },
    );
  });

  it('merges attributes in log order, once for a repeated identify, and orders sends by message id and recent sends by time', () => {
    const state = rebuildState({
      sends: [
        { message_id: 'b', count: 2, last_at: T0 },
        { message_id: 'a', count: 1, last_at: T0 - HOUR },
      ],
      recent: [
        { at: T0, channel: 'push' },
        { at: T0 - HOUR, channel: 'sms' },
      ],
      entries: [
        {
          id: 'p',
          at: T0 - 5 * HOUR,
          effect: true,
          change: identify({ plan: 'pro', name: 'Ann' }, { id: 'p' }),
        },
        {
          id: 'q',
          at: T0 - 5 * HOUR + 5 * MINUTE,
          effect: true,
          change: identify({ plan: null }, { id: 'q' }),
        },
        // A repeat of p, stamped anew within the hour: dropped live, so not applied again.
        {
          id: 'p',
          at: T0 - 5 * HOUR + 10 * MINUTE,
          effect: true,
          change: identify({ plan: 'pro', name: 'Ann' }, { id: 'p' }),
        },
        {
          id: 'o',
          at: T0 - 4 * HOUR,
          effect: true,
          change: preferences({ channels: { email: false }, messages: { a: false } }, { id: 'o' }),
        },
        { id: 's', at: T0 - 4 * HOUR, effect: true, change: pushSubscription('add', 1, { id: 's' }) },
        { id: 'x', at: T0 - 2 * HOUR, effect: true },
        { id: 'y', at: T0 - HOUR, effect: false },
        { id: 'x', at: T0, effect: true },
      ],
    });
    expect(state).toEqual({
      attributes: { name: 'Ann' },
      optouts: ['channel:email', 'message:a'],
      push: [{ endpoint: 'https://push.example/1', keys: { p256dh: P256DH, auth: AUTH } }],
      sends: ['a', 1, T0 - HOUR, 'b', 2, T0],
      recent: [T0 - HOUR, 'sms', T0, 'push'],
      // x at T0 - 2h is past the hour by T0, so x at T0 is a new entry, recorded anew.
      applied: ['x', T0],
    });
  });
});
