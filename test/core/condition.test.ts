import { describe, expect, it } from 'vitest';
import { compileCondition } from '../../pipeline/core/condition.ts';
import { decide } from '../../pipeline/core/decide.ts';
import { compileField } from '../../pipeline/core/facts.ts';
import type { Condition, ConditionValue, Op } from '../../pipeline/core/message-schema.ts';
import { ConditionSchema, OPS } from '../../pipeline/core/message-schema.ts';
import type { FlatObject, Scalar } from '../../pipeline/core/scalar.ts';
import { facts, identify, index, message, NONE, only, run, track, verdicts, withReason } from './builders.ts';

function leaf(field: string, op: Op, value?: ConditionValue): Condition {
  return ConditionSchema.parse(value === undefined ? { field, op } : { field, op, value });
}

function holds(condition: Condition, metadata: FlatObject | undefined): boolean {
  return compileCondition(condition)(facts({ metadata })) === undefined;
}

/** op, value, the field's actual value, whether the condition holds. */
type Row = readonly [Op, ConditionValue | undefined, Scalar, boolean];

const ROWS: readonly Row[] = [
  ['eq', 1, 1, true],
  ['eq', 1, 2, false],
  ['eq', 1, '1', false],
  ['eq', '1', 1, false],
  ['eq', 'a', 'a', true],
  ['eq', 'a', 'A', false],
  ['eq', true, true, true],
  ['eq', true, 'true', false],
  ['eq', 0, false, false],
  ['eq', 1.5, 1.5, true],
  ['neq', 1, 2, true],
  ['neq', 1, 1, false],
  ['neq', 1, '1', true],
  ['neq', '1', 1, true],
  ['neq', 'a', 'a', false],
  ['neq', true, false, true],
  ['gt', 5, 6, true],
  ['gt', 5, 5, false],
  ['gt', 5, 4, false],
  ['gt', 5, '6', false],
  ['gt', 0, true, false],
  ['gt', 0, 0.5, true],
  ['gt', -2, -1, true],
  ['gte', 5, 5, true],
  ['gte', 5, 6, true],
  ['gte', 5, 4.99, false],
  ['gte', 5, '5', false],
  ['lt', 5, 4, true],
  ['lt', 5, 5, false],
  ['lt', 5, 6, false],
  ['lt', 5, '4', false],
  ['lt', 1, false, false],
  ['lte', 5, 5, true],
  ['lte', 5, 4, true],
  ['lte', 5, 6, false],
  ['lte', 5, '5', false],
  ['lte', 5, '', false],
  ['contains', 'ploa', '/uploads', true],
  ['contains', 'x', '/uploads', false],
  ['contains', 'UP', '/uploads', false],
  ['contains', '', 'abc', true],
  ['contains', '1', 123, false],
  ['contains', 'true', true, false],
  ['not_contains', 'x', 'abc', true],
  ['not_contains', 'b', 'abc', false],
  ['not_contains', '1', 123, false],
  ['starts_with', '/up', '/uploads', true],
  ['starts_with', 'up', '/uploads', false],
  ['starts_with', '1', 12, false],
  ['ends_with', '.png', 'a.png', true],
  ['ends_with', '.png', 'a.jpg', false],
  ['ends_with', '2', 12, false],
  ['in', ['pro', 'team'], 'pro', true],
  ['in', ['pro', 'team'], 'free', false],
  ['in', [1, 2], 2, true],
  ['in', [1, 2], '1', false],
  ['in', ['1'], 1, false],
  ['in', [true], true, true],
  ['in', [1], true, false],
  ['not_in', ['pro'], 'free', true],
  ['not_in', ['pro'], 'pro', false],
  ['not_in', [1], '1', true],
  ['not_in', ['1'], 1, true],
  ['not_in', [1, 2], 2, false],
  ['exists', undefined, 0, true],
  ['exists', undefined, '', true],
  ['exists', undefined, false, true],
  ['not_exists', undefined, 0, false],
  ['not_exists', undefined, '', false],
  ['not_exists', undefined, false, false],
];

/** A value each op accepts, for the missing-field table. */
const SAMPLE_VALUE: Readonly<Record<Op, ConditionValue | undefined>> = {
  eq: 1,
  neq: 1,
  gt: 1,
  gte: 1,
  lt: 1,
  lte: 1,
  contains: 'a',
  not_contains: 'a',
  starts_with: 'a',
  ends_with: 'a',
  in: ['a', 1],
  not_in: ['a', 1],
  exists: undefined,
  not_exists: undefined,
};

describe('condition ops', () => {
  it.each(ROWS)('%s %j against %j holds: %s', (op, value, actual, expected) => {
    expect(holds(leaf('metadata.f', op, value), { f: actual })).toBe(expected);
  });

  it('covers every op in the table', () => {
    expect(new Set(ROWS.map(([op]) => op))).toEqual(new Set(OPS));
  });

  describe.each(OPS)('a missing field with %s', (op) => {
    const condition = leaf('metadata.f', op, SAMPLE_VALUE[op]);
    const expected = op === 'not_exists';
    it.each([
      ['absent key', { g: 1 }],
      ['null value', { f: null }],
      ['no metadata at all', undefined],
    ] as const)('%s: holds only for not_exists', (_label, metadata) => {
      expect(holds(condition, metadata)).toBe(expected);
    });

    it('reports the field as missing (actual undefined) when it fails', () => {
      const failure = compileCondition(condition)(facts({ metadata: { f: null } }));
      if (op === 'not_exists') expect(failure).toBeUndefined();
      else expect(failure).toEqual({ field: 'metadata.f', op, value: SAMPLE_VALUE[op], actual: undefined });
    });
  });
});

describe('fields', () => {
  it.each([
    ['metadata.plan', facts({ metadata: { plan: 'pro' } })],
    ['context.plan', facts({ context: { plan: 'pro' } })],
    ['user.plan', facts({ user: { plan: 'pro' } })],
  ] as const)('%s reads its own source only', (field, seen) => {
    expect(compileCondition(leaf(field, 'eq', 'pro'))(seen)).toBeUndefined();
    for (const other of ['metadata.plan', 'context.plan', 'user.plan'].filter((f) => f !== field)) {
      expect(compileCondition(leaf(other, 'exists'))(seen)).toEqual({
        field: other,
        op: 'exists',
        value: undefined,
        actual: undefined,
      });
    }
  });

  it('event.name is the entry name', () => {
    const seen = facts({ name: 'upload-completed' });
    expect(compileCondition(leaf('event.name', 'eq', 'upload-completed'))(seen)).toBeUndefined();
    expect(compileCondition(leaf('event.name', 'starts_with', 'upload'))(seen)).toBeUndefined();
    expect(compileCondition(leaf('event.name', 'in', ['a', 'upload-completed']))(seen)).toBeUndefined();
    expect(compileCondition(leaf('event.name', 'eq', 'other'))(seen)).toEqual({
      field: 'event.name',
      op: 'eq',
      value: 'other',
      actual: 'upload-completed',
    });
  });

  it('the key is everything after the first dot', () => {
    expect(holds(leaf('metadata.a.b', 'eq', 1), { 'a.b': 1 })).toBe(true);
    expect(holds(leaf('metadata.a.b', 'exists'), { a: 1 })).toBe(false);
    expect(compileField('context.page.url')(facts({ context: { 'page.url': '/x' } }))).toBe('/x');
  });

  describe.each(['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf'])(
    'a key named %s behaves like an ordinary key',
    (key) => {
      // JSON.parse defines own properties, even "__proto__", as ingestion does.
      const present = JSON.parse(`{${JSON.stringify(key)}: "x"}`) as FlatObject;

      it.each(['metadata', 'context', 'user'] as const)('in %s: absent is missing', (root) => {
        const field = `${root}.${key}`;
        const empty = facts({ metadata: {}, context: {}, user: {} });
        expect(compileCondition(leaf(field, 'exists'))(empty)).toEqual({
          field,
          op: 'exists',
          value: undefined,
          actual: undefined,
        });
        expect(compileCondition(leaf(field, 'not_exists'))(empty)).toBeUndefined();
        expect(compileCondition(leaf(field, 'neq', 'x'))(empty)).toBeDefined();
        expect(compileCondition(leaf(field, 'not_in', ['x']))(empty)).toBeDefined();
        expect(compileCondition(leaf(field, 'not_contains', 'x'))(empty)).toBeDefined();
      });

      it.each(['metadata', 'context', 'user'] as const)('in %s: present is read', (root) => {
        const field = `${root}.${key}`;
        const seen = facts({ [root]: present });
        expect(compileCondition(leaf(field, 'eq', 'x'))(seen)).toBeUndefined();
        expect(compileCondition(leaf(field, 'not_exists'))(seen)).toEqual({
          field,
          op: 'not_exists',
          value: undefined,
          actual: 'x',
        });
      });

      it('as a user attribute set by identify and read by an audience', () => {
        const rules = index(message({ audience: { field: `user.${key}`, op: 'eq', value: 'x' } }));
        const before = run([track()], rules).decisions;
        expect(verdicts(before)).toEqual(['filtered:audience']);
        const after = run([identify(present), track()], rules);
        expect(verdicts(after.decisions)).toEqual(['sent']);
        const attributes = after.states.get('u1')?.attributes ?? {};
        expect(Object.hasOwn(attributes, key)).toBe(true);
        expect(Object.getPrototypeOf(attributes)).toBe(Object.prototype);
      });
    },
  );
});

describe('groups', () => {
  const condition = ConditionSchema.parse({
    all: [
      { field: 'metadata.size', op: 'gt', value: 120 },
      {
        any: [
          { field: 'context.url', op: 'contains', value: '/uploads' },
          {
            all: [
              { field: 'user.plan', op: 'eq', value: 'pro' },
              { field: 'user.beta', op: 'exists' },
            ],
          },
        ],
      },
    ],
  });
  const check = compileCondition(condition);

  it.each([
    ['every part holds through the first any branch', { size: 121 }, { url: '/uploads/1' }, {}, true],
    ['the second any branch holds', { size: 121 }, { url: '/home' }, { plan: 'pro', beta: true }, true],
    ['the nested all fails halfway', { size: 121 }, { url: '/home' }, { plan: 'pro' }, false],
    ['the first all part fails', { size: 120 }, { url: '/uploads' }, {}, false],
    ['everything missing', {}, {}, {}, false],
  ] as const)('%s', (_label, metadata, context, user, expected) => {
    expect(check(facts({ metadata, context, user })) === undefined).toBe(expected);
  });

  it('an all group reports its first failing part with the actual value', () => {
    expect(check(facts({ metadata: { size: 30 }, context: { url: '/uploads' } }))).toEqual({
      field: 'metadata.size',
      op: 'gt',
      value: 120,
      actual: 30,
    });
  });

  it('an any group reports every branch, nested groups included', () => {
    expect(
      check(facts({ metadata: { size: 500 }, context: { url: '/home' }, user: { plan: 'free' } })),
    ).toEqual({
      any: [
        { field: 'context.url', op: 'contains', value: '/uploads', actual: '/home' },
        { field: 'user.plan', op: 'eq', value: 'pro', actual: 'free' },
      ],
    });
  });

  it('an absent condition always holds', () => {
    expect(compileCondition(undefined)(facts())).toBeUndefined();
  });

  it('deeply nested single-member groups behave as their leaf', () => {
    const nested = ConditionSchema.parse({
      any: [{ all: [{ any: [{ field: 'metadata.n', op: 'lte', value: 3 }] }] }],
    });
    expect(holds(nested, { n: 3 })).toBe(true);
    expect(compileCondition(nested)(facts({ metadata: { n: 4 } }))).toEqual({
      any: [{ any: [{ field: 'metadata.n', op: 'lte', value: 3, actual: 4 }] }],
    });
  });
});

describe('conditions in decide', () => {
  it('a failing trigger where is event_filter with the failure as explanation', () => {
    const rules = index(
      message({ trigger: { event: 'evt', where: { field: 'metadata.duration_s', op: 'gt', value: 120 } } }),
    );
    const decision = only(
      decide(undefined, track({ metadata: { duration_s: '300' } }), rules, NONE).decisions,
    );
    expect(withReason(decision, 'event_filter').explanation).toEqual({
      field: 'metadata.duration_s',
      op: 'gt',
      value: 120,
      actual: '300',
    });
    expect(decision.outcome).toBe('filtered');
  });

  it('a failing audience is audience with the failure as explanation', () => {
    const rules = index(message({ audience: { field: 'user.plan', op: 'in', value: ['pro', 'team'] } }));
    const { decisions } = run([identify({ plan: 'free' }), track()], rules);
    expect(withReason(only(decisions), 'audience').explanation).toEqual({
      field: 'user.plan',
      op: 'in',
      value: ['pro', 'team'],
      actual: 'free',
    });
  });

  it('context conditions read the entry context', () => {
    const rules = index(
      message({
        trigger: { event: 'evt', where: { field: 'context.time_on_page_s', op: 'gte', value: 30 } },
      }),
    );
    expect(
      verdicts(
        run([track({ context: { time_on_page_s: 29 } }), track({ context: { time_on_page_s: 30 } })], rules)
          .decisions,
      ),
    ).toEqual(['filtered:event_filter', 'sent']);
  });
});
