import { describe, expect, it } from 'vitest';
import {
  CHANNELS,
  GlobalCapListSchema,
  MessageListSchema,
  MessageSchema,
  OPS,
} from '../../pipeline/core/message-schema.ts';
import { validate } from '../../pipeline/core/validation.ts';
import { DAY, HOUR, messageInput, MINUTE } from './builders.ts';

/** The first error for `overrides` on a valid message, failing the test when the message is valid. */
function errorsFor(overrides: Record<string, unknown>): string[] {
  const result = validate(MessageSchema, messageInput(overrides));
  if (result.ok) throw new Error(`expected ${JSON.stringify(overrides)} to be rejected`);
  return result.errors;
}

const where = (condition: unknown) => ({ trigger: { event: 'evt', where: condition } });

describe('a valid message', () => {
  it('parses the example of DESIGN §3', () => {
    const parsed = MessageSchema.parse({
      id: 'upload-ready',
      name: 'Upload finished',
      channel: 'push',
      state: 'live',
      live_since: 1795000000000,
      priority: 0,
      trigger: {
        event: 'upload-completed',
        where: {
          all: [
            { field: 'metadata.duration_s', op: 'gt', value: 120 },
            { field: 'context.url', op: 'contains', value: '/uploads' },
          ],
        },
      },
      audience: { field: 'user.plan', op: 'in', value: ['pro', 'team'] },
      frequency: { min_interval: '1h', max_sends: null },
      global_cap_exempt: false,
      schedule: {
        timezone: 'Europe/London',
        days: ['mon', 'tue', 'wed', 'thu', 'fri'],
        from: '09:00',
        to: '18:00',
      },
      template: {
        subject: 'Upload done',
        body: '{{ metadata.file_name }} is ready, {{ user.first_name | fallback: "there" }}',
      },
      goal: { event: 'upload-shared', within: '1d' },
    });
    expect(parsed.frequency).toEqual({ min_interval: HOUR, max_sends: null });
    expect(parsed.goal).toEqual({ event: 'upload-shared', within: DAY });
    expect(parsed.version).toBe(1);
  });

  it('fills the defaults', () => {
    const parsed = MessageSchema.parse(messageInput({ schedule: {} }));
    expect(parsed).toMatchObject({
      version: 1,
      priority: 0,
      frequency: { min_interval: 0, max_sends: null },
      global_cap_exempt: false,
      schedule: { timezone: 'UTC', from: '00:00', to: '24:00' },
    });
    expect(parsed.schedule?.days).toBeUndefined();
    expect(parsed.live_since).toBeUndefined();
    expect(parsed.audience).toBeUndefined();
  });

  it.each(CHANNELS)('accepts channel %s', (channel) => {
    expect(validate(MessageSchema, messageInput({ channel })).ok).toBe(true);
  });

  it.each(['draft', 'live', 'paused', 'stopped'])('accepts state %s', (state) => {
    expect(validate(MessageSchema, messageInput({ state })).ok).toBe(true);
  });

  it.each([
    ['30s', 30_000],
    ['15m', 15 * MINUTE],
    ['1h', HOUR],
    ['1d', DAY],
    ['1w', 7 * DAY],
    [90_000, 90_000],
    [0, 0],
  ] as const)('min_interval %j is %i ms', (min_interval, ms) => {
    expect(MessageSchema.parse(messageInput({ frequency: { min_interval } })).frequency.min_interval).toBe(
      ms,
    );
  });

  it.each(OPS)('accepts op %s with a value of the right kind', (op) => {
    const value =
      op === 'exists' || op === 'not_exists'
        ? undefined
        : op === 'in' || op === 'not_in'
          ? ['a', 1, true]
          : ['gt', 'gte', 'lt', 'lte'].includes(op)
            ? 3
            : 'a';
    const condition = value === undefined ? { field: 'user.x', op } : { field: 'user.x', op, value };
    expect(validate(MessageSchema, messageInput({ audience: condition })).ok).toBe(true);
  });

  it('accepts eq and neq with a string, a number or a boolean', () => {
    for (const op of ['eq', 'neq']) {
      for (const value of ['a', 1, false]) {
        expect(validate(MessageSchema, messageInput({ audience: { field: 'user.x', op, value } })).ok).toBe(
          true,
        );
      }
    }
  });
});

describe('validation errors name the path and the problem', () => {
  it.each([
    [
      'an unknown op inside a group',
      where({
        all: [
          { field: 'metadata.a', op: 'eq', value: 1 },
          { field: 'metadata.b', op: 'gtt', value: 1 },
        ],
      }),
      'trigger.where.all[1].op: unknown op "gtt"',
    ],
    [
      'a numeric op with a numeric string',
      where({ field: 'metadata.a', op: 'gt', value: '5' }),
      'trigger.where.value: "gt" compares numbers only, got "5"',
    ],
    [
      'lte with a boolean',
      where({ field: 'metadata.a', op: 'lte', value: true }),
      'trigger.where.value: "lte" compares numbers only, got true',
    ],
    [
      'contains with a number',
      { audience: { all: [{ field: 'user.a', op: 'contains', value: 1 }] } },
      'audience.all[0].value: "contains" takes a string, got 1',
    ],
    [
      'starts_with with a list',
      where({ field: 'context.url', op: 'starts_with', value: ['/'] }),
      'trigger.where.value: "starts_with" takes a string, got ["/"]',
    ],
    [
      'in with a scalar',
      where({ field: 'metadata.a', op: 'in', value: 5 }),
      'trigger.where.value: "in" takes a list of strings, numbers or booleans, got 5',
    ],
    [
      'eq with a list',
      where({ field: 'metadata.a', op: 'eq', value: [1] }),
      'trigger.where.value: "eq" takes a string, number or boolean, got [1]',
    ],
    [
      'exists with a value',
      where({ field: 'metadata.a', op: 'exists', value: 5 }),
      'trigger.where.value: "exists" takes no value',
    ],
    [
      'eq without a value',
      where({ field: 'metadata.a', op: 'eq' }),
      'trigger.where.value: "eq" needs a value',
    ],
    [
      'an unknown field root',
      where({ field: 'meta.a', op: 'eq', value: 1 }),
      'trigger.where.field: unknown field "meta.a"',
    ],
    [
      'event.id',
      { audience: { field: 'event.id', op: 'exists' } },
      'audience.field: unknown field "event.id"',
    ],
    ['an empty group', { audience: { any: [] } }, 'audience.any: a group needs at least one condition'],
    [
      'a nested unknown op',
      { audience: { any: [{ all: [{ field: 'user.a', op: 'equals', value: 1 }] }] } },
      'audience.any[0].all[0].op: unknown op "equals"',
    ],
    [
      'a bad duration',
      { frequency: { min_interval: '1x' } },
      'frequency.min_interval: invalid duration "1x"',
    ],
    [
      'a duration with a space',
      { frequency: { min_interval: '1 h' } },
      'frequency.min_interval: invalid duration "1 h"',
    ],
    ['a negative duration', { frequency: { min_interval: -5 } }, 'frequency.min_interval: '],
    [
      'a fractional duration',
      { frequency: { min_interval: 1.5 } },
      'frequency.min_interval: a duration is a string',
    ],
    ['a bad goal duration', { goal: { event: 'x', within: '2y' } }, 'goal.within: invalid duration "2y"'],
    ['a negative max_sends', { frequency: { max_sends: -1 } }, 'frequency.max_sends: '],
    [
      'an unknown timezone',
      { schedule: { timezone: 'Mars/Olympus' } },
      'schedule.timezone: unknown IANA timezone "Mars/Olympus"',
    ],
    ['an unknown day', { schedule: { days: ['mon', 'funday'] } }, 'schedule.days[1]: unknown day "funday"'],
    ['a day listed twice', { schedule: { days: ['mon', 'mon'] } }, 'schedule.days: a day is listed twice'],
    ['no days', { schedule: { days: [] } }, 'schedule.days: list at least one day'],
    ['a bad time of day', { schedule: { from: '25:00' } }, 'schedule.from: a time of day is "HH:MM"'],
    [
      '9:00 without a leading zero',
      { schedule: { from: '9:00' } },
      'schedule.from: a time of day is "HH:MM"',
    ],
    [
      'from 24:00',
      { schedule: { from: '24:00', to: '01:00' } },
      'schedule.from: a window cannot open at 24:00',
    ],
    ['an empty window', { schedule: { from: '09:00', to: '09:00' } }, 'schedule.to: from and to are equal'],
    [
      'an unknown channel',
      { channel: 'fax' },
      'channel: unknown channel "fax": use one of chat, post, email',
    ],
    ['a missing channel', { channel: undefined }, 'channel: required'],
    ['an unknown state', { state: 'on' }, 'state: unknown state "on"'],
    ['a bad id', { id: '-x' }, 'id: an id is 1 to 128 letters'],
    ['a missing id', { id: undefined }, 'id: required'],
    ['an unknown key', { colour: 'red' }, '(root): unknown key "colour"'],
    ['an unknown trigger key', { trigger: { event: 'evt', when: 1 } }, 'trigger: unknown key "when"'],
    ['a missing trigger event', { trigger: {} }, 'trigger.event: required'],
    ['a fractional priority', { priority: 0.5 }, 'priority: '],
    ['a string global_cap_exempt', { global_cap_exempt: 'yes' }, 'global_cap_exempt: '],
  ] as const)('%s: %s', (_label, overrides, expected) => {
    const errors = errorsFor(overrides);
    expect(errors[0]?.startsWith(expected), `${JSON.stringify(errors)} should start with ${expected}`).toBe(
      true,
    );
  });

  it('reports every problem, one line each', () => {
    expect(errorsFor({ channel: 'fax', state: 'on', frequency: { min_interval: '1x' } })).toHaveLength(3);
  });
});

describe('MessageListSchema', () => {
  it('rejects duplicate ids, naming the later one', () => {
    const result = validate(MessageListSchema, [
      messageInput({ id: 'a' }),
      messageInput({ id: 'b' }),
      messageInput({ id: 'a' }),
    ]);
    expect(result).toEqual({ ok: false, errors: ['[2].id: duplicate id "a"'] });
  });

  it('names the index of a bad message', () => {
    const result = validate(MessageListSchema, [
      messageInput({ id: 'a' }),
      messageInput({ id: 'b', channel: 'fax' }),
    ]);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.errors[0]).toMatch(/^\[1\]\.channel: unknown channel "fax"/);
  });

  it('accepts distinct ids, case-sensitively', () => {
    expect(validate(MessageListSchema, [messageInput({ id: 'a' }), messageInput({ id: 'A' })]).ok).toBe(true);
  });
});

describe('GlobalCapListSchema', () => {
  it('parses durations and an optional channel', () => {
    expect(
      GlobalCapListSchema.parse([
        { max: 3, per: '1d' },
        { max: 1, per: '1w', channel: 'sms' },
      ]),
    ).toEqual([
      { max: 3, per: DAY },
      { max: 1, per: 7 * DAY, channel: 'sms' },
    ]);
  });

  it.each([
    [[{ max: 1, per: '0s' }], '[0].per: a cap window must be longer than 0'],
    [[{ max: 1, per: 0 }], '[0].per: a cap window must be longer than 0'],
    [[{ max: -1, per: '1d' }], '[0].max: '],
    [[{ max: 1.5, per: '1d' }], '[0].max: '],
    [[{ max: 1, per: '1d', channel: 'fax' }], '[0].channel: unknown channel "fax"'],
    [[{ max: 1, per: '1x' }], '[0].per: invalid duration "1x"'],
    [[{ max: 1 }], '[0].per: '],
    [[{ max: 1, per: '1d', scope: 'user' }], '[0]: unknown key "scope"'],
  ] as const)('%j: %s', (input, expected) => {
    const result = validate(GlobalCapListSchema, input);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.errors[0]?.startsWith(expected), JSON.stringify(result.errors)).toBe(true);
  });
});
