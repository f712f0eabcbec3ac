import { Engine } from 'json-rules-engine';
import type { NestedCondition, RuleProperties, TopLevelCondition } from 'json-rules-engine';
import type { Condition, Message, Op } from '../../pipeline/core/message-schema.ts';
import type { TrackEntry } from '../../pipeline/core/log-entry.ts';

/**
 * Baseline (b): json-rules-engine deciding which messages' conditions (trigger event, `where`,
 * audience) hold for each entry. Only conditions: no schedule, no frequency, no caps, no output.
 */
const OPERATORS: Record<Op, string> = {
  eq: 'equal',
  neq: 'notEqual',
  gt: 'greaterThan',
  gte: 'greaterThanInclusive',
  lt: 'lessThan',
  lte: 'lessThanInclusive',
  in: 'in',
  not_in: 'notIn',
  contains: 'textContains',
  not_contains: 'textNotContains',
  starts_with: 'textStartsWith',
  ends_with: 'textEndsWith',
  exists: 'present',
  not_exists: 'absent',
};

function toRuleCondition(condition: Condition): NestedCondition {
  if ('all' in condition) return { all: condition.all.map(toRuleCondition) };
  if ('any' in condition) return { any: condition.any.map(toRuleCondition) };
  const dot = condition.field.indexOf('.');
  const fact = condition.field === 'event.name' ? 'name' : condition.field.slice(0, dot);
  const path = condition.field === 'event.name' ? undefined : `$.${condition.field.slice(dot + 1)}`;
  return {
    fact,
    ...(path === undefined ? {} : { path }),
    operator: OPERATORS[condition.op],
    value: condition.value ?? null,
  };
}

function toRule(message: Message): RuleProperties {
  const all: NestedCondition[] = [{ fact: 'name', operator: 'equal', value: message.trigger.event }];
  if (message.trigger.where !== undefined) all.push(toRuleCondition(message.trigger.where));
  if (message.audience !== undefined) all.push(toRuleCondition(message.audience));
  const conditions: TopLevelCondition = { all };
  return { name: message.id, conditions, event: { type: message.id } };
}

export function rulesEngine(messages: readonly Message[]): Engine {
  const engine = new Engine(messages.filter((m) => m.state === 'live').map(toRule), {
    allowUndefinedFacts: true,
  });
  const text = (test: (a: string, b: string) => boolean) => (fact: unknown, value: unknown) =>
    typeof fact === 'string' && typeof value === 'string' && test(fact, value);
  engine.addOperator(
    'textContains',
    text((a, b) => a.includes(b)),
  );
  engine.addOperator(
    'textNotContains',
    text((a, b) => !a.includes(b)),
  );
  engine.addOperator(
    'textStartsWith',
    text((a, b) => a.startsWith(b)),
  );
  engine.addOperator(
    'textEndsWith',
    text((a, b) => a.endsWith(b)),
  );
  engine.addOperator('present', (fact: unknown) => fact !== undefined && fact !== null);
  engine.addOperator('absent', (fact: unknown) => fact === undefined || fact === null);
  return engine;
}

/** Runs entries through one engine per event name, each holding only that event's rules: json-rules-engine given an index by hand. */
export function indexedRulesEngines(messages: readonly Message[]): Map<string, Engine> {
  const byEvent = new Map<string, Message[]>();
  for (const message of messages)
    byEvent.set(message.trigger.event, [...(byEvent.get(message.trigger.event) ?? []), message]);
  return new Map([...byEvent].map(([event, list]) => [event, rulesEngine(list)]));
}

export function factsOf(entry: TrackEntry, user: Record<string, unknown>): Record<string, unknown> {
  return { name: entry.name, metadata: entry.metadata ?? {}, context: entry.context ?? {}, user };
}
