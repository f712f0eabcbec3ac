import type { Facts, Present } from './facts.ts';
import { compileField } from './facts.ts';
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

function compileLeaf(leaf: ConditionLeaf): CompiledCondition {
  const read = compileField(leaf.field);
  const test = compileTest(leaf.op, leaf.value);
  const { field, op, value } = leaf;
  return (facts) => {
    const actual = read(facts);
    return test(actual) ? undefined : { field, op, value, actual };
  };
}

type Test = (actual: Present | undefined) => boolean;

/** DESIGN §3: a missing field fails every op but `not_exists`; a string never equals a number. */
function compileTest(op: Op, value: ConditionValue | undefined): Test {
  switch (op) {
    case 'exists':
      return (actual) => actual !== undefined;
    case 'not_exists':
      return (actual) => actual === undefined;
    case 'eq':
      return (actual) => actual === value;
    case 'neq':
      return (actual) => actual !== undefined && actual !== value;
    case 'gt':
      return numeric(value, (a, b) => a > b);
    case 'gte':
      return numeric(value, (a, b) => a >= b);
    case 'lt':
      return numeric(value, (a, b) => a < b);
    case 'lte':
      return numeric(value, (a, b) => a <= b);
    case 'contains':
      return textual(value, (a, b) => a.includes(b));
    case 'not_contains':
      return textual(value, (a, b) => !a.includes(b));
    case 'starts_with':
      return textual(value, (a, b) => a.startsWith(b));
    case 'ends_with':
      return textual(value, (a, b) => a.endsWith(b));
    case 'in': {
      const members = new Set<Present>(Array.isArray(value) ? value : []);
      return (actual) => actual !== undefined && members.has(actual);
    }
    case 'not_in': {
      const members = new Set<Present>(Array.isArray(value) ? value : []);
      return (actual) => actual !== undefined && !members.has(actual);
    }
  }
}

function numeric(value: ConditionValue | undefined, compare: (a: number, b: number) => boolean): Test {
  if (typeof value !== 'number')
    throw new Error('numeric op without a number: validate with MessageSchema first');
  return (actual) => typeof actual === 'number' && compare(actual, value);
}

function textual(value: ConditionValue | undefined, compare: (a: string, b: string) => boolean): Test {
  if (typeof value !== 'string')
    throw new Error('string op without a string: validate with MessageSchema first');
  return (actual) => typeof actual === 'string' && compare(actual, value);
}
