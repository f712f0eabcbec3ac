/**
 * Properties of held sends and of eligibility (issue #18), over random logs, limits and schedules
 * in zones with and without daylight saving, near its changes:
 * - counting every send at its delivery time, no window of any limit ever holds more sends than
 *   it allows (min_interval, max_sends, every global cap);
 * - a held send is delivered at its window's next opening, within defer_max;
 * - `eligibility` agrees with `decide`: an entry at `eligible_at` is sent at once, and none
 *   between the question and it is.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compileCaps } from '../../pipeline/core/caps.ts';
import { decide } from '../../pipeline/core/decide.ts';
import type { Decision } from '../../pipeline/core/decision.ts';
import { eligibility } from '../../pipeline/core/eligibility.ts';
import type { LogEntry } from '../../pipeline/core/log-entry.ts';
import type { GlobalCap, Message } from '../../pipeline/core/message-schema.ts';
import { DAYS, GlobalCapListSchema, MessageSchema } from '../../pipeline/core/message-schema.ts';
import { buildRuleIndex } from '../../pipeline/core/rule-index.ts';
import { compileSchedule } from '../../pipeline/core/schedule.ts';
import type { FlatObject } from '../../pipeline/core/scalar.ts';
import type { UserState } from '../../pipeline/core/user-state.ts';
import { at, DAY, MINUTE } from './builders.ts';

const ZONES = [
  'UTC',
  'Asia/Tokyo',
  'Asia/Kolkata',
  'Europe/London',
  'America/New_York',
  'America/Los_Angeles',
  'Australia/Sydney',
];
/** A day before a daylight saving change somewhere among the zones (US, EU, Sydney; both ways). */
const STARTS = [
  '2026-03-07T00:00:00Z',
  '2026-03-28T00:00:00Z',
  '2026-04-04T00:00:00Z',
  '2026-10-03T00:00:00Z',
  '2026-10-24T00:00:00Z',
  '2026-10-31T00:00:00Z',
].map(at);
const USERS = ['u1', 'u2'];
const EVENTS = ['e1', 'e2'];

const clock = (minutes: number) =>
  `${String(Math.floor(minutes / 60)).padStart(2, '0')}:${String(minutes % 60).padStart(2, '0')}`;

const scheduleArb = fc
  .record({
    timezone: fc.constantFrom(...ZONES, 'user', 'user'),
    fallback: fc.constantFrom(...ZONES),
    days: fc.option(fc.uniqueArray(fc.constantFrom(...DAYS), { minLength: 1, maxLength: 7 }), {
      nil: undefined,
    }),
    // Half hours, so that windows open inside a skipped or repeated hour (02:30) now and then.
    from: fc.integer({ min: 0, max: 47 }).map((half) => half * 30),
    to: fc.integer({ min: 1, max: 48 }).map((half) => half * 30),
    outside: fc.constantFrom('defer', 'defer', 'defer', 'suppress'),
    defer_max: fc.constantFrom('1h', '6h', '1d', '3d', undefined),
  })
  .filter((s) => s.from !== s.to % 1440)
  .map((s) => ({
    timezone: s.timezone,
    ...(s.timezone === 'user' ? { fallback_timezone: s.fallback } : {}),
    ...(s.days === undefined ? {} : { days: s.days }),
    from: clock(s.from),
    to: clock(s.to),
    outside: s.outside,
    ...(s.outside === 'defer' && s.defer_max !== undefined ? { defer_max: s.defer_max } : {}),
  }));

const messageArb = (id: string) =>
  fc.record({
    id: fc.constant(id),
    channel: fc.constantFrom('banner', 'post'),
    state: fc.constant('live'),
    trigger: fc.record({ event: fc.constantFrom(...EVENTS) }),
    frequency: fc.record({
      min_interval: fc.constantFrom(0, 0, '30m', '1h', '6h', '1d'),
      max_sends: fc.constantFrom(null, null, 1, 2, 4),
    }),
    global_cap_exempt: fc.boolean(),
    schedule: fc.option(scheduleArb, { nil: undefined, freq: 4 }),
    template: fc.constant({ body: 'hi' }),
  });

const messagesArb = fc
  .integer({ min: 1, max: 3 })
  .chain((n) => fc.tuple(...['a', 'b', 'c'].slice(0, n).map(messageArb)))
  .map((inputs) => inputs.map((input) => MessageSchema.parse(input)));

const capsArb = fc
  .array(
    fc.record(
      {
        max: fc.integer({ min: 0, max: 3 }),
        per: fc.constantFrom('30m', '1h', '6h', '1d', '2d'),
        channel: fc.constantFrom('banner', 'post'),
      },
      { requiredKeys: ['max', 'per'] },
    ),
    { maxLength: 2 },
  )
  .map((list) => GlobalCapListSchema.parse(list));

type Step =
  | { readonly kind: 'track'; readonly user: string; readonly event: string; readonly gap: number }
  | {
      readonly kind: 'identify';
      readonly user: string;
      readonly timezone: string | null;
      readonly gap: number;
    };

/** Minutes to half a day between entries, sometimes none, and now and then a few seconds back (ingest clocks disagree). */
const gapArb = fc.oneof(
  { weight: 6, arbitrary: fc.integer({ min: 0, max: 12 * 60 }).map((m) => m * MINUTE) },
  { weight: 1, arbitrary: fc.constant(0) },
  { weight: 1, arbitrary: fc.integer({ min: -20_000, max: -1 }) },
);

const stepArb: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant('track' as const),
      user: fc.constantFrom(...USERS),
      event: fc.constantFrom(...EVENTS),
      gap: gapArb,
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('identify' as const),
      user: fc.constantFrom(...USERS),
      timezone: fc.constantFrom(...ZONES, 'Not/A_Zone', null),
      gap: gapArb,
    }),
  },
);

const scenarioArb = fc.record({
  messages: messagesArb,
  caps: capsArb,
  start: fc.constantFrom(...STARTS),
  steps: fc.array(stepArb, { minLength: 1, maxLength: 40 }),
});

type Scenario = { messages: Message[]; caps: GlobalCap[]; start: number; steps: Step[] };

function logOf(scenario: Scenario): LogEntry[] {
  let time = scenario.start;
  return scenario.steps.map((step, i) => {
    time = Math.max(scenario.start, time + step.gap);
    return step.kind === 'track'
      ? { type: 'track', id: `t${i}`, user_id: step.user, name: step.event, received_at: time }
      : {
          type: 'identify',
          id: `i${i}`,
          user_id: step.user,
          received_at: time,
          attributes: { timezone: step.timezone },
        };
  });
}

type Decided = { readonly decision: Decision; readonly user: FlatObject };

/** Decides the log in order, keeping each decision with the user's attributes when it was made. */
function play(scenario: Scenario): { decided: Decided[]; states: Map<string, UserState> } {
  const index = buildRuleIndex(scenario.messages);
  const caps = compileCaps(scenario.caps);
  const states = new Map<string, UserState>();
  const decided: Decided[] = [];
  for (const entry of logOf(scenario)) {
    const before = states.get(entry.user_id);
    const result = decide(before, entry, index, caps);
    states.set(entry.user_id, result.state);
    for (const decision of result.decisions) decided.push({ decision, user: before?.attributes ?? {} });
  }
  return { decided, states };
}

const deliveredAt = (d: Decision) => (d.outcome === 'sent' ? (d.deliver_at ?? d.at) : d.at);

describe('held sends, counted at their delivery times', () => {
  it('no window of any limit ever holds more sends than it allows, and each held send is delivered at its window’s next opening within defer_max', () => {
    fc.assert(
      fc.property(scenarioArb, (scenario) => {
        const { decided } = play(scenario);
        const byId = new Map(scenario.messages.map((m) => [m.id, m]));
        for (const user of USERS) {
          const sends = decided
            .map((d) => d.decision)
            .filter((d) => d.user_id === user && d.outcome === 'sent');
          for (const [id, message] of byId) {
            const times = sends
              .filter((d) => d.message_id === id)
              .map(deliveredAt)
              .sort((a, b) => a - b);
            const { min_interval, max_sends } = message.frequency;
            if (max_sends !== null) expect(times.length).toBeLessThanOrEqual(max_sends);
            for (let i = 1; i < times.length; i++)
              expect(
                (times[i] ?? 0) - (times[i - 1] ?? 0),
                `${id} at ${JSON.stringify(times)}`,
              ).toBeGreaterThanOrEqual(min_interval);
          }
          for (const cap of scenario.caps) {
            const times = sends
              .filter((d) => !byId.get(d.message_id)?.global_cap_exempt)
              .filter((d) => cap.channel === undefined || d.channel === cap.channel)
              .map(deliveredAt)
              .sort((a, b) => a - b);
            // The fullest window (T - per, T] is [t_i, t_i + per) for some send t_i.
            for (const start of times) {
              const inWindow = times.filter((t) => t >= start && t < start + cap.per).length;
              expect(inWindow, `cap ${JSON.stringify(cap)}: ${JSON.stringify(times)}`).toBeLessThanOrEqual(
                cap.max,
              );
            }
          }
        }
        for (const { decision, user } of decided) {
          if (decision.outcome !== 'sent' || decision.deliver_at === undefined) continue;
          const message = byId.get(decision.message_id);
          const schedule = compileSchedule(message?.schedule);
          const closed = schedule(decision.at, user);
          expect(message?.schedule?.outside).toBe('defer');
          expect(closed?.opens_at).toBe(decision.deliver_at);
          expect(schedule(decision.deliver_at, user)).toBeUndefined();
          expect(decision.deliver_at).toBeGreaterThan(decision.at);
          expect(decision.deliver_at - decision.at).toBeLessThanOrEqual(message?.schedule?.defer_max ?? DAY);
        }
      }),
      { numRuns: 700 },
    );
  });

  it('a message that does not defer never holds a send', () => {
    fc.assert(
      fc.property(scenarioArb, (scenario) => {
        const deferring = new Set(
          scenario.messages.filter((m) => m.schedule?.outside === 'defer').map((m) => m.id),
        );
        for (const { decision } of play(scenario).decided)
          if (!deferring.has(decision.message_id)) expect(decision).not.toHaveProperty('deliver_at');
      }),
      { numRuns: 200 },
    );
  });
});

describe('eligibility agrees with decide', () => {
  it('an entry at eligible_at is sent at once; none from the question up to it is; never means never', () => {
    fc.assert(
      fc.property(
        scenarioArb,
        fc.nat({ max: 2 }),
        fc.integer({ min: 0, max: 2 * DAY }),
        fc.array(fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), {
          minLength: 3,
          maxLength: 3,
        }),
        (scenario, pick, after, fractions) => {
          const { states } = play(scenario);
          const message = scenario.messages[pick % scenario.messages.length] as Message;
          const state = states.get('u1');
          const caps = compileCaps(scenario.caps);
          const last = Math.max(scenario.start, ...logOf(scenario).map((e) => e.received_at));
          const question = last + after;
          const index = buildRuleIndex([message]);
          let n = 0;
          const sentAtOnce = (time: number) => {
            const entry: LogEntry = {
              type: 'track',
              id: `q${n++}`,
              user_id: 'u1',
              name: message.trigger.event,
              received_at: time,
            };
            const [decision] = decide(state, entry, index, caps).decisions;
            return decision?.outcome === 'sent' && decision.deliver_at === undefined;
          };
          const answer = eligibility(state, message, caps, 'u1', question);
          if (answer.eligible) {
            expect(sentAtOnce(question)).toBe(true);
            return;
          }
          const { eligible_at } = answer;
          if (eligible_at === null) {
            for (const f of fractions) expect(sentAtOnce(question + Math.floor(f * 7 * DAY))).toBe(false);
            return;
          }
          expect(eligible_at).toBeGreaterThan(question);
          expect(sentAtOnce(eligible_at), JSON.stringify(answer)).toBe(true);
          expect(sentAtOnce(eligible_at - 1), JSON.stringify(answer)).toBe(false);
          for (const f of fractions)
            expect(sentAtOnce(question + Math.floor(f * (eligible_at - question)))).toBe(false);
        },
      ),
      { numRuns: 700 },
    );
  });
});
