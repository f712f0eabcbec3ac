import type { Facts, Present } from './facts.ts';
import { readSource } from './facts.ts';
import type { Condition, ConditionLeaf, ConditionValue, Op } from './message-schema.ts';

/** Why a condition failed: the leaf with the value actually seen, or every branch of an `any`. */
export type ConditionFailure =
  | {
      readonly field: string;
      readonly op: Op;
      readonly value: ConditionValue | undefined;
      /** `undefined` when the field was missing (absent or null). */
      readonly actual: Present | undefined;
    }
  | { readonly any: readonly ConditionFailure[] };

/** A condition compiled once per message version: `undefined` when it holds, else why not. */
export type CompiledCondition = (facts: Facts) => ConditionFailure | undefined;

export const ALWAYS: CompiledCondition = () => undefined;

export function compileCondition(condition: Condition | undefined): CompiledCondition {
  if (condition === undefined) return ALWAYS;
  if ('all' in condition) return compileAll(condition.all.map(compileCondition));
  if ('any' in condition) return compileAny(condition.any.map(compileCondition));
  return compileLeaf(condition);
}

function compileAll(parts: readonly CompiledCondition[]): CompiledCondition {
  return (facts) => {
    for (const part of parts) {
      const failure = part(facts);
      if (failure !== undefined) return failure;
    }
    return undefined;
  };
}

function compileAny(parts: readonly CompiledCondition[]): CompiledCondition {
  return (facts) => {
    const failures: ConditionFailure[] = [];
    for (const part of parts) {
      const failure = part(facts);
      if (failure === undefined) return undefined;
      failures.push(failure);
    }
    return { any: failures };
  };
}

/**
 * A leaf becomes one generated function that reads the field and tests it inline (see
 * `readSource` for why generated). Values enter the source as JSON literals; lists go in as a Set.
 */
function compileLeaf(leaf: ConditionLeaf): CompiledCondition {
  const members = new Set<Present>(Array.isArray(leaf.value) ? leaf.value : []);
  const source = `return function leaf(facts) {
    ${readSource(leaf.field, 'actual')}
    if (${testSource(leaf.op, leaf.value)}) return undefined;
    return { field: condition.field, op: condition.op, value: condition.value, actual };
  };`;
  // eslint-disable-next-line @typescript-eslint/no-implied-eval -- generated from JSON literals, see readSource
  const make = new Function('condition', 'members', source) as (
    c: ConditionLeaf,
    m: ReadonlySet<Present>,
  ) => CompiledCondition;
  return make(leaf, members);
}

/** DESIGN §3 as a JS expression on `actual`: a missing field fails every op but `not_exists`; a string never equals a number. */
function testSource(op: Op, value: ConditionValue | undefined): string {
  const literal = JSON.stringify(value);
  switch (op) {
    case 'exists':
      return 'actual !== undefined';
    case 'not_exists':
      return 'actual === undefined';
    case 'eq':
      return `actual === ${literal}`;
    case 'neq':
      return `actual !== undefined && actual !== ${literal}`;
    case 'gt':
      return `typeof actual === 'number' && actual > ${number(value)}`;
    case 'gte':
      return `typeof actual === 'number' && actual >= ${number(value)}`;
    case 'lt':
      return `typeof actual === 'number' && actual < ${number(value)}`;
    case 'lte':
      return `typeof actual === 'number' && actual <= ${number(value)}`;
    case 'contains':
      return `typeof actual === 'string' && actual.includes(${text(value)})`;
    case 'not_contains':
      return `typeof actual === 'string' && !actual.includes(${text(value)})`;
    case 'starts_with':
      return `typeof actual === 'string' && actual.startsWith(${text(value)})`;
    case 'ends_with':
      return `typeof actual === 'string' && actual.endsWith(${text(value)})`;
    case 'in':
      return 'actual !== undefined && members.has(actual)';
    case 'not_in':
      return 'actual !== undefined && !members.has(actual)';
  }
}

function number(value: ConditionValue | undefined): string {
  if (typeof value !== 'number' || !Number.isFinite(value))
    throw new Error('numeric op without a number: validate with MessageSchema first');
  return JSON.stringify(value);
}

function text(value: ConditionValue | undefined): string {
  if (typeof value !== 'string')
    throw new Error('string op without a string: validate with MessageSchema first');
  return JSON.stringify(value);
}
