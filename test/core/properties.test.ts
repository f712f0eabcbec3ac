import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { CompiledCaps } from '../../pipeline/core/caps.ts';
import { compileCaps } from '../../pipeline/core/caps.ts';
import { decide } from '../../pipeline/core/decide.ts';
import type { Decision } from '../../pipeline/core/decision.ts';
import { explain } from '../../pipeline/core/explain.ts';
import type { LogEntry } from '../../pipeline/core/log-entry.ts';
import type { Channel, Day, GlobalCap, Message } from '../../pipeline/core/message-schema.ts';
import { DAYS, GlobalCapListSchema, MessageListSchema } from '../../pipeline/core/message-schema.ts';
import type { RuleIndex } from '../../pipeline/core/rule-index.ts';
import { buildRuleIndex } from '../../pipeline/core/rule-index.ts';
import type { FlatObject, Scalar } from '../../pipeline/core/scalar.ts';
import type { UserState } from '../../pipeline/core/user-state.ts';
import { EMPTY_USER_STATE } from '../../pipeline/core/user-state.ts';
import { replayLine } from '../../pipeline/replay/replay-line.ts';
import { Replayer } from '../../pipeline/replay/replayer.ts';
import { at, DAY, deepFreeze, HOUR, MINUTE, AUTH, P256DH } from './builders.ts';

// ---------------------------------------------------------------------------------------------
// Arbitraries: small message sets and logs over a few users, so that limits are actually hit.
// ---------------------------------------------------------------------------------------------

const CHANNEL_POOL = ['push', 'sms', 'email', 'banner'] as const satisfies readonly Channel[];
const USERS = ['u1', 'u2', 'u3 "quoted"'];
const X_VALUES: readonly (Scalar | undefined)[] = [undefined, null, 0, 1, '1', 3, 'pro'];

type Facts = { readonly metadata: FlatObject; readonly user: FlatObject };

/** Conditions with a hand-written meaning, so that the model below does not reuse the core. */
const WHERES = [
  {
    json: { field: 'metadata.x', op: 'gt', value: 0 },
    test: (f: Facts) => typeof f.metadata['x'] === 'number' && f.metadata['x'] > 0,
  },
  {
    json: { field: 'metadata.x', op: 'in', value: [1, 'pro'] },
    test: (f: Facts) => f.metadata['x'] === 1 || f.metadata['x'] === 'pro',
  },
  {
    json: { field: 'metadata.x', op: 'not_exists' },
    test: (f: Facts) => f.metadata['x'] === undefined || f.metadata['x'] === null,
  },
  {
    json: {
      any: [
        { field: 'user.plan', op: 'eq', value: 'pro' },
        { field: 'metadata.x', op: 'neq', value: 1 },
      ],
    },
    test: (f: Facts) =>
      f.user['plan'] === 'pro' ||
      (f.metadata['x'] !== undefined && f.metadata['x'] !== null && f.metadata['x'] !== 1),
  },
] as const;

const AUDIENCES = [
  { json: { field: 'user.plan', op: 'eq', value: 'pro' }, test: (f: Facts) => f.user['plan'] === 'pro' },
  {
    json: { field: 'user.plan', op: 'not_in', value: ['pro'] },
    test: (f: Facts) => f.user['plan'] !== undefined && f.user['plan'] !== 'pro',
  },
  { json: { field: 'user.plan', op: 'exists' }, test: (f: Facts) => f.user['plan'] !== undefined },
] as const;

type ScheduleSpec = { readonly days: readonly Day[] | undefined; readonly from: number; readonly to: number };

const scheduleArb: fc.Arbitrary<ScheduleSpec> = fc
  .record({
    days: fc.option(fc.uniqueArray(fc.constantFrom(...DAYS), { minLength: 1, maxLength: 7 }), {
      nil: undefined,
    }),
    from: fc.integer({ min: 0, max: 23 }),
    to: fc.integer({ min: 1, max: 24 }),
  })
  .filter((s) => s.from !== s.to);

/** `arb` once in `1 + odds` draws, `nil` otherwise. */
function sometimes<T, N>(arb: fc.Arbitrary<T>, nil: N, odds: number): fc.Arbitrary<T | N> {
  return fc.oneof({ weight: odds, arbitrary: fc.constant(nil) }, { weight: 1, arbitrary: arb });
}

type MessageSpec = {
  readonly id: string;
  readonly event: string;
  readonly channel: Channel;
  readonly state: 'live' | 'paused' | 'draft';
  readonly priority: number;
  readonly live_since: number | undefined;
  readonly min_interval: number;
  readonly max_sends: number | null;
  readonly exempt: boolean;
  readonly where: number | undefined;
  readonly audience: number | undefined;
  readonly schedule: ScheduleSpec | undefined;
};

const messageSpecArb: fc.Arbitrary<MessageSpec> = fc.record({
  id: fc.constantFrom('a', 'B', 'b', 'm1', 'm10', 'm2', 'constructor'),
  event: fc.constantFrom('e1', 'e2'),
  channel: fc.constantFrom(...CHANNEL_POOL),
  state: fc.constantFrom('live', 'live', 'live', 'live', 'paused', 'draft'),
  priority: fc.integer({ min: -1, max: 2 }),
  live_since: fc.option(fc.integer({ min: 0, max: 30 * 1000 }), { nil: undefined }),
  min_interval: fc.constantFrom(0, 0, 500, 1_500, 4_000, HOUR),
  max_sends: sometimes(fc.integer({ min: 0, max: 4 }), null, 1),
  exempt: fc.boolean(),
  where: sometimes(fc.integer({ min: 0, max: WHERES.length - 1 }), undefined, 2),
  audience: sometimes(fc.integer({ min: 0, max: AUDIENCES.length - 1 }), undefined, 3),
  schedule: sometimes(scheduleArb, undefined, 4),
});

const hh = (hour: number) => `${String(hour).padStart(2, '0')}:00`;

/** The JSON a person would write for the message, relative to the log's base time. */
function messageJson(spec: MessageSpec, base: number): Record<string, unknown> {
  const where = spec.where === undefined ? undefined : WHERES[spec.where]?.json;
  const audience = spec.audience === undefined ? undefined : AUDIENCES[spec.audience]?.json;
  return {
    id: spec.id,
    channel: spec.channel,
    state: spec.state,
    priority: spec.priority,
    ...(spec.live_since === undefined ? {} : { live_since: base + spec.live_since }),
    trigger: { event: spec.event, ...(where === undefined ? {} : { where }) },
    ...(audience === undefined ? {} : { audience }),
    frequency: { min_interval: spec.min_interval, max_sends: spec.max_sends },
    global_cap_exempt: spec.exempt,
    ...(spec.schedule === undefined
      ? {}
      : {
          schedule: {
            timezone: 'UTC',
            ...(spec.schedule.days === undefined ? {} : { days: spec.schedule.days }),
            from: hh(spec.schedule.from),
            to: hh(spec.schedule.to),
          },
        }),
    template: { subject: spec.id, body: 'x={{ metadata.x | fallback: "none" }}' },
  };
}

const capArb = fc.record(
  {
    max: fc.integer({ min: 0, max: 3 }),
    per: fc.constantFrom(1_000, 2_500, '5s', 10_000, '2h'),
    channel: fc.constantFrom(...CHANNEL_POOL),
  },
  { requiredKeys: ['max', 'per'] },
);

type EntrySpec =
  | { readonly kind: 'track'; readonly user: number; readonly event: string; readonly x: Scalar | undefined }
  | {
      readonly kind: 'identify';
      readonly user: number;
      readonly plan: 'pro' | 'free' | null;
      /** `drop` removes the address (null), `blank` makes it an empty string, `set` gives one. */
      readonly contact: 'keep' | 'drop' | 'blank' | 'set';
    }
  | {
      readonly kind: 'preferences';
      readonly user: number;
      readonly key: string;
      readonly choice: boolean | null;
    }
  | {
      readonly kind: 'push';
      readonly user: number;
      readonly action: 'add' | 'remove';
      readonly endpoint: number;
    };

const entrySpecArb: fc.Arbitrary<EntrySpec> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({
      kind: fc.constant('track' as const),
      user: fc.integer({ min: 0, max: USERS.length - 1 }),
      event: fc.constantFrom('e1', 'e1', 'e2', 'other'),
      x: fc.constantFrom(...X_VALUES),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('identify' as const),
      user: fc.integer({ min: 0, max: USERS.length - 1 }),
      plan: fc.constantFrom('pro' as const, 'free' as const, null),
      contact: fc.constantFrom(
        'keep' as const,
        'keep' as const,
        'drop' as const,
        'blank' as const,
        'set' as const,
      ),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('preferences' as const),
      user: fc.integer({ min: 0, max: USERS.length - 1 }),
      // `channel:<channel>` or `message:<id>`, among the channels and ids messages are drawn from.
      key: fc.constantFrom(
        ...CHANNEL_POOL.map((c) => `channel:${c}`),
        ...['a', 'b', 'm1', 'constructor'].map((id) => `message:${id}`),
      ),
      choice: fc.constantFrom(false, false, true, null),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('push' as const),
      user: fc.integer({ min: 0, max: USERS.length - 1 }),
      action: fc.constantFrom('add' as const, 'remove' as const),
      endpoint: fc.integer({ min: 0, max: 1 }),
    }),
  },
);

const subscription = (endpoint: number) => ({
  endpoint: `https://push.example/${endpoint}`,
  keys: { p256dh: P256DH, auth: AUTH },
});

/** Every user starts reachable on every channel, so that the limits have sends to count. */
function contactEntries(base: number): LogEntry[] {
  return USERS.flatMap((user_id, i): LogEntry[] => [
    {
      type: 'identify',
      id: `c${i}`,
      user_id,
      received_at: base,
      attributes: { email: `${i}@example.com`, phone: `+1555000${i}` },
    },
    {
      type: 'push_subscription',
      id: `s${i}`,
      user_id,
      received_at: base,
      action: 'add',
      subscription: subscription(0),
    },
  ]);
}

/** Mostly small steps forward, sometimes a long gap, sometimes a small step back (ingest clocks disagree). */
const stepArb = (jitter: boolean) =>
  fc.oneof(
    { weight: 12, arbitrary: fc.integer({ min: 0, max: 2_000 }) },
    { weight: 1, arbitrary: fc.integer({ min: 0, max: 8 * HOUR }) },
    { weight: jitter ? 3 : 0, arbitrary: fc.integer({ min: -1_000, max: -1 }) },
  );

function buildLog(base: number, items: readonly (readonly [EntrySpec, number])[]): LogEntry[] {
  let time = base;
  const log = items.map(([spec, step], i): LogEntry => {
    time += step;
    const user_id = USERS[spec.user] ?? 'u1';
    const id = `e${i}`;
    if (spec.kind === 'identify') {
      const contact: FlatObject =
        spec.contact === 'keep'
          ? {}
          : spec.contact === 'set'
            ? { email: 'x@example.com', phone: '+15550009' }
            : { email: spec.contact === 'drop' ? null : '', phone: spec.contact === 'drop' ? null : '' };
      return {
        type: 'identify',
        id,
        user_id,
        received_at: time,
        attributes: { plan: spec.plan, ...contact },
      };
    }
    if (spec.kind === 'preferences') {
      const [scope, key] = spec.key.split(':') as ['channel' | 'message', string];
      return {
        type: 'preferences',
        id,
        user_id,
        received_at: time,
        channels: scope === 'channel' ? { [key]: spec.choice } : {},
        messages: scope === 'message' ? { [key]: spec.choice } : {},
      };
    }
    if (spec.kind === 'push') {
      return {
        type: 'push_subscription',
        id,
        user_id,
        received_at: time,
        action: spec.action,
        subscription: subscription(spec.endpoint),
      };
    }
    return {
      type: 'track',
      id,
      name: spec.event,
      user_id,
      received_at: time,
      ...(spec.x === undefined ? {} : { metadata: { x: spec.x, other: 'y' } }),
    };
  });
  return [...contactEntries(base), ...log];
}

type Scenario = {
  readonly base: number;
  readonly specs: readonly MessageSpec[];
  readonly messages: readonly Message[];
  readonly capList: readonly GlobalCap[];
  readonly log: readonly LogEntry[];
};

const scenarioArb = (jitter: boolean): fc.Arbitrary<Scenario> =>
  fc
    .record({
      base: fc.integer({ min: at('2026-01-01T00:00:00Z'), max: at('2027-01-01T00:00:00Z') }),
      specs: fc.uniqueArray(messageSpecArb, { minLength: 1, maxLength: 5, selector: (m) => m.id }),
      caps: fc.array(capArb, { maxLength: 3 }),
      items: fc.array(fc.tuple(entrySpecArb, stepArb(jitter)), { maxLength: 50 }),
    })
    .map(({ base, specs, caps, items }) => ({
      base,
      specs,
      messages: MessageListSchema.parse(specs.map((s) => messageJson(s, base))),
      capList: GlobalCapListSchema.parse(caps),
      log: buildLog(base, items),
    }));

/**
 * Scenarios aimed at the global caps: every message live and unconditioned, one or two users,
 * short cap windows and steps of the same order, so that windows fill up and entries arrive out
 * of order around their edges.
 */
const capScenarioArb: fc.Arbitrary<Scenario> = fc
  .record({
    base: fc.integer({ min: 0, max: 10 * DAY }),
    specs: fc.uniqueArray(
      fc.record({
        id: fc.constantFrom('a', 'B', 'b', 'm1', 'm2'),
        event: fc.constantFrom('e1', 'e2'),
        channel: fc.constantFrom(...CHANNEL_POOL),
        priority: fc.integer({ min: -1, max: 1 }),
        exempt: fc.boolean(),
      }),
      { minLength: 1, maxLength: 4, selector: (m) => m.id },
    ),
    caps: fc.array(
      fc.record(
        {
          max: fc.integer({ min: 1, max: 3 }),
          per: fc.constantFrom(1_000, 2_000),
          channel: fc.constantFrom(...CHANNEL_POOL),
        },
        { requiredKeys: ['max', 'per'] },
      ),
      { minLength: 1, maxLength: 2 },
    ),
    items: fc.array(
      fc.tuple(
        fc.record({
          kind: fc.constant('track' as const),
          user: fc.integer({ min: 0, max: 1 }),
          event: fc.constantFrom('e1', 'e2'),
          x: fc.constant(undefined),
        }),
        fc.oneof(
          { weight: 2, arbitrary: fc.integer({ min: 0, max: 1_500 }) },
          { weight: 1, arbitrary: fc.integer({ min: -800, max: -1 }) },
        ),
      ),
      { maxLength: 60 },
    ),
  })
  .map(({ base, specs, caps, items }) => {
    const full: MessageSpec[] = specs.map((s) => ({
      ...s,
      state: 'live',
      live_since: undefined,
      min_interval: 0,
      max_sends: null,
      where: undefined,
      audience: undefined,
      schedule: undefined,
    }));
    return {
      base,
      specs: full,
      messages: MessageListSchema.parse(full.map((s) => messageJson(s, base))),
      capList: GlobalCapListSchema.parse(caps),
      log: buildLog(base, items),
    };
  });

// ---------------------------------------------------------------------------------------------
// Running the core
// ---------------------------------------------------------------------------------------------

type Step = {
  readonly entry: LogEntry;
  readonly before: UserState | undefined;
  readonly state: UserState;
  readonly decisions: readonly Decision[];
};

/** Decides `log` in order, from `initial` states; every step is recorded. Inputs are deep-frozen. */
function replay(
  log: readonly LogEntry[],
  index: RuleIndex,
  caps: CompiledCaps,
  initial: ReadonlyMap<string, UserState> = new Map(),
): { steps: Step[]; states: Map<string, UserState> } {
  const states = new Map(initial);
  const steps: Step[] = [];
  for (const entry of log) {
    const before = states.get(entry.user_id);
    const { state, decisions } = decide(before, entry, index, caps);
    states.set(entry.user_id, state);
    steps.push({ entry, before, state, decisions });
  }
  return { steps, states };
}

const decisionsOf = (steps: readonly Step[]) => steps.flatMap((s) => s.decisions);

function compile(scenario: Scenario): { index: RuleIndex; caps: CompiledCaps } {
  return { index: buildRuleIndex(scenario.messages), caps: compileCaps(scenario.capList) };
}

/** Sends per user, in decision order. */
function sendsByUser(decisions: readonly Decision[]): Map<string, Decision[]> {
  const byUser = new Map<string, Decision[]>();
  for (const d of decisions) {
    if (d.outcome !== 'sent') continue;
    byUser.set(d.user_id, [...(byUser.get(d.user_id) ?? []), d]);
  }
  return byUser;
}

const RUNS = { numRuns: 400 };

// ---------------------------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------------------------

describe('determinism', () => {
  it('the same input gives byte-identical decisions, with a fresh index and caps too', () => {
    fc.assert(
      fc.property(scenarioArb(true), (scenario) => {
        const first = compile(scenario);
        const once = JSON.stringify(decisionsOf(replay(scenario.log, first.index, first.caps).steps));
        const twice = JSON.stringify(decisionsOf(replay(scenario.log, first.index, first.caps).steps));
        const reparsed: Scenario = {
          ...scenario,
          messages: MessageListSchema.parse(
            JSON.parse(JSON.stringify(scenario.specs.map((s) => messageJson(s, scenario.base)))),
          ),
        };
        const fresh = compile(reparsed);
        const again = JSON.stringify(decisionsOf(replay(scenario.log, fresh.index, fresh.caps).steps));
        expect(twice).toBe(once);
        expect(again).toBe(once);
      }),
      RUNS,
    );
  });

  it('states round-tripped through JSON at any split point give the same decisions', () => {
    fc.assert(
      fc.property(scenarioArb(true), fc.nat(), (scenario, cut) => {
        const { index, caps } = compile(scenario);
        const whole = JSON.stringify(decisionsOf(replay(scenario.log, index, caps).steps));
        const split = scenario.log.length === 0 ? 0 : cut % (scenario.log.length + 1);
        const head = replay(scenario.log.slice(0, split), index, caps);
        const restored = new Map(
          [...head.states].map(([user, state]) => [user, JSON.parse(JSON.stringify(state)) as UserState]),
        );
        const tail = replay(scenario.log.slice(split), index, caps, restored);
        expect(JSON.stringify([...decisionsOf(head.steps), ...decisionsOf(tail.steps)])).toBe(whole);
      }),
      RUNS,
    );
  });

  it('the Replayer gives the same decisions as deciding entry by entry, and replay lines are their JSON', () => {
    fc.assert(
      fc.property(scenarioArb(true), (scenario) => {
        const { index, caps } = compile(scenario);
        const expected = decisionsOf(replay(scenario.log, index, caps).steps);
        const replayer = new Replayer(index, caps);
        const got = scenario.log.flatMap((entry) => [...replayer.apply(entry)]);
        expect(JSON.stringify(got)).toBe(JSON.stringify(expected));
        for (const d of got) {
          const { entry_id, message_id, user_id, at: time, outcome, reason } = d;
          const line =
            d.outcome === 'sent'
              ? {
                  entry_id,
                  message_id,
                  user_id,
                  at: time,
                  outcome,
                  reason,
                  content: { subject: d.content.subject, body: d.content.body },
                }
              : { entry_id, message_id, user_id, at: time, outcome, reason };
          expect(replayLine(d)).toBe(JSON.stringify(line));
        }
        expect(replayer.summary.decisions).toBe(got.length);
        expect(replayer.summary.outcomes.sent).toBe(got.filter((d) => d.outcome === 'sent').length);
      }),
      { numRuns: 200 },
    );
  });
});

describe('limits', () => {
  it('sends of one message to one user are never closer than min_interval, nor more than max_sends', () => {
    fc.assert(
      fc.property(scenarioArb(true), (scenario) => {
        const { index, caps } = compile(scenario);
        const byId = new Map(scenario.messages.map((m) => [m.id, m]));
        for (const sends of sendsByUser(decisionsOf(replay(scenario.log, index, caps).steps)).values()) {
          for (const [id, message] of byId) {
            const times = sends.filter((d) => d.message_id === id).map((d) => d.at);
            const { min_interval, max_sends } = message.frequency;
            if (max_sends !== null) expect(times.length).toBeLessThanOrEqual(max_sends);
            if (min_interval === 0) continue;
            for (let i = 1; i < times.length; i++) {
              const gap = (times[i] ?? 0) - (times[i - 1] ?? 0);
              expect(gap, `sends of ${id} at ${JSON.stringify(times)}`).toBeGreaterThanOrEqual(min_interval);
            }
          }
        }
      }),
      { numRuns: 600 },
    );
  });

  it('no global cap window (T - per, T] ever holds more than max counted sends', () => {
    fc.assert(
      fc.property(
        fc.oneof({ weight: 1, arbitrary: scenarioArb(true) }, { weight: 3, arbitrary: capScenarioArb }),
        (scenario) => {
          const { index, caps } = compile(scenario);
          const exempt = new Set(scenario.messages.filter((m) => m.global_cap_exempt).map((m) => m.id));
          for (const sends of sendsByUser(decisionsOf(replay(scenario.log, index, caps).steps)).values()) {
            for (const cap of scenario.capList) {
              const times = sends
                .filter(
                  (d) =>
                    !exempt.has(d.message_id) && (cap.channel === undefined || d.channel === cap.channel),
                )
                .map((d) => d.at)
                .sort((a, b) => a - b);
              // The fullest window ending at some T starts just after T - per: it is [t_i, t_i + per) for some send t_i.
              for (let i = 0; i < times.length; i++) {
                const start = times[i] ?? 0;
                const inWindow = times.filter((t) => t >= start && t < start + cap.per).length;
                expect(
                  inWindow,
                  `cap ${JSON.stringify(cap)}, counted sends ${JSON.stringify(times)}`,
                ).toBeLessThanOrEqual(cap.max);
              }
            }
          }
        },
      ),
      { numRuns: 2500 },
    );
  });
});

describe('state', () => {
  it('filtered and suppressed decisions never change sends, caps or attributes, and decide never mutates its inputs', () => {
    fc.assert(
      fc.property(scenarioArb(true), (scenario) => {
        const { index, caps } = compile(scenario);
        const frozenLog = deepFreeze(JSON.parse(JSON.stringify(scenario.log)) as LogEntry[]);
        const states = new Map<string, UserState>();
        for (const entry of frozenLog) {
          const before = states.get(entry.user_id);
          const text = JSON.stringify(before ?? null);
          const { state, decisions } = decide(before, entry, index, caps);
          expect(JSON.stringify(before ?? null)).toBe(text);
          const was = before ?? EMPTY_USER_STATE;
          if (entry.type !== 'track') expect(decisions).toHaveLength(0);
          else if (decisions.length === 0) expect(state).toBe(was);
          else if (decisions.every((d) => d.outcome !== 'sent')) {
            expect(state.sends).toBe(was.sends);
            expect(state.recent).toBe(was.recent);
            expect(state.attributes).toBe(was.attributes);
          } else expect(state.attributes).toEqual(was.attributes);
          states.set(entry.user_id, deepFreeze(state));
        }
      }),
      RUNS,
    );
  });

  it('each entry gets exactly one decision per live candidate, in priority then id order', () => {
    fc.assert(
      fc.property(scenarioArb(true), (scenario) => {
        const { index, caps } = compile(scenario);
        for (const step of replay(scenario.log, index, caps).steps) {
          const entry = step.entry;
          const expected =
            entry.type !== 'track'
              ? []
              : scenario.messages
                  .filter(
                    (m) =>
                      m.state === 'live' &&
                      m.trigger.event === entry.name &&
                      entry.received_at >= (m.live_since ?? 0),
                  )
                  .sort((a, b) => b.priority - a.priority || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
                  .map((m) => m.id);
          expect(step.decisions.map((d) => d.message_id)).toEqual(expected);
          for (const d of step.decisions) {
            expect(d.decision_id).toBe(`${d.message_id}:${entry.id}`);
            expect(d.at).toBe(entry.received_at);
            expect(explain(d).length).toBeGreaterThan(0);
          }
        }
      }),
      RUNS,
    );
  });
});

// ---------------------------------------------------------------------------------------------
// A model of DESIGN §4, written from the text, with the full send history (no pruning): on logs
// in time order the core must agree with it on every decision.
// ---------------------------------------------------------------------------------------------

type ModelSend = {
  readonly message: string;
  readonly at: number;
  readonly channel: Channel;
  readonly counted: boolean;
};

function scheduleOpen(spec: ScheduleSpec, time: number): boolean {
  const day = Math.floor(time / DAY);
  const minutes = Math.floor((time - day * DAY) / MINUTE);
  const listed = (d: number) =>
    spec.days === undefined || spec.days.includes(DAYS[((d % 7) + 7) % 7] ?? 'sun');
  const weekday = day + 4; // 1970-01-01 was a Thursday
  const from = spec.from * 60;
  const to = spec.to * 60;
  if (to > from) return listed(weekday) && minutes >= from && minutes < to;
  return (listed(weekday) && minutes >= from) || (listed(weekday - 1) && minutes < to);
}

function model(scenario: Scenario): string[] {
  const out: string[] = [];
  const attributes = new Map<string, FlatObject>();
  const optouts = new Map<string, Set<string>>();
  const subscriptions = new Map<string, Set<string>>();
  const history = new Map<string, ModelSend[]>();
  const candidates = [...scenario.specs]
    .filter((s) => s.state === 'live')
    .sort((a, b) => b.priority - a.priority || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  for (const entry of scenario.log) {
    const user = attributes.get(entry.user_id) ?? {};
    if (entry.type === 'identify') {
      const changed = Object.entries(entry.attributes);
      const kept = Object.entries(user).filter(([key]) => !changed.some(([k]) => k === key));
      attributes.set(
        entry.user_id,
        Object.fromEntries([...kept, ...changed.filter(([, value]) => value !== null)]),
      );
      continue;
    }
    const mine = optouts.get(entry.user_id) ?? new Set<string>();
    optouts.set(entry.user_id, mine);
    const endpoints = subscriptions.get(entry.user_id) ?? new Set<string>();
    subscriptions.set(entry.user_id, endpoints);
    if (entry.type === 'preferences') {
      const choices = [
        ...Object.entries(entry.channels).map(([k, v]) => [`channel:${k}`, v] as const),
        ...Object.entries(entry.messages).map(([k, v]) => [`message:${k}`, v] as const),
      ];
      for (const [key, choice] of choices)
        if (choice === false) mine.add(key);
        else mine.delete(key);
      continue;
    }
    if (entry.type === 'push_subscription') {
      if (entry.action === 'add') endpoints.add(entry.subscription.endpoint);
      else endpoints.delete(entry.subscription.endpoint);
      continue;
    }
    const sends = history.get(entry.user_id) ?? [];
    const time = entry.received_at;
    const facts: Facts = { metadata: entry.metadata ?? {}, user };
    for (const spec of candidates) {
      if (spec.event !== entry.name || time < scenario.base + (spec.live_since ?? -Infinity)) continue;
      const sent = sends.filter((s) => s.message === spec.id);
      const last = sent.at(-1);
      const address = (value: unknown) => typeof value === 'string' && value.trim() !== '';
      const reachable =
        spec.channel === 'email'
          ? address(user['email'])
          : spec.channel === 'sms'
            ? address(user['phone'])
            : spec.channel === 'push'
              ? endpoints.size > 0
              : true;
      const blockingCap = scenario.capList.some((cap) => {
        if (spec.exempt || (cap.channel !== undefined && cap.channel !== spec.channel)) return false;
        const inWindow = sends.filter(
          (s) =>
            s.counted &&
            s.at > time - cap.per &&
            s.at <= time &&
            (cap.channel === undefined || s.channel === cap.channel),
        );
        return inWindow.length >= cap.max;
      });
      let verdict: string;
      if (spec.where !== undefined && !(WHERES[spec.where]?.test(facts) ?? true)) verdict = 'event_filter';
      else if (spec.audience !== undefined && !(AUDIENCES[spec.audience]?.test(facts) ?? true))
        verdict = 'audience';
      else if (mine.has(`message:${spec.id}`) || (!spec.exempt && mine.has(`channel:${spec.channel}`)))
        verdict = 'unsubscribed';
      else if (!reachable) verdict = 'unreachable';
      else if (spec.schedule !== undefined && !scheduleOpen(spec.schedule, time)) verdict = 'schedule';
      else if (spec.max_sends !== null && sent.length >= spec.max_sends) verdict = 'max_sends';
      // A min_interval of 0 means none, even for an entry stamped before the last send.
      else if (spec.min_interval > 0 && last !== undefined && time - last.at < spec.min_interval)
        verdict = 'min_interval';
      else if (blockingCap) verdict = 'global_cap';
      else {
        const x = facts.metadata['x'];
        const body = `x=${x === undefined || x === null ? 'none' : typeof x === 'string' ? x : JSON.stringify(x)}`;
        verdict = `sent ${spec.id} ${body}`;
        sends.push({ message: spec.id, at: time, channel: spec.channel, counted: !spec.exempt });
      }
      out.push(`${entry.id} ${spec.id} ${verdict}`);
    }
    history.set(entry.user_id, sends);
  }
  return out;
}

describe('the model of DESIGN §4', () => {
  it('on logs in time order, every decision is the one the model makes', () => {
    fc.assert(
      fc.property(scenarioArb(false), (scenario) => {
        const { index, caps } = compile(scenario);
        const got = decisionsOf(replay(scenario.log, index, caps).steps).map((d) =>
          d.outcome === 'sent'
            ? `${d.entry_id} ${d.message_id} sent ${d.content.subject ?? 'null'} ${d.content.body}`
            : `${d.entry_id} ${d.message_id} ${d.reason}`,
        );
        expect(got).toEqual(model(scenario));
      }),
      { numRuns: 600 },
    );
  });

  it('without global caps, the core agrees with the model on logs with out-of-order entries too', () => {
    fc.assert(
      fc.property(scenarioArb(true), (withCaps) => {
        const scenario: Scenario = { ...withCaps, capList: [] };
        const { index, caps } = compile(scenario);
        const got = decisionsOf(replay(scenario.log, index, caps).steps).map((d) =>
          d.outcome === 'sent'
            ? `${d.entry_id} ${d.message_id} sent ${d.content.subject ?? 'null'} ${d.content.body}`
            : `${d.entry_id} ${d.message_id} ${d.reason}`,
        );
        expect(got).toEqual(model(scenario));
      }),
      RUNS,
    );
  });
});
