import { z } from 'zod';
import type { FlatObject, Scalar } from './scalar.ts';
import { isPrototypeKey } from './scalar.ts';
import { requiredOr } from './validation.ts';

/** `metadata.<key>`, `context.<key>`, `user.<key>` (the key is everything after the first dot) or `event.name`. */
export const FieldSchema = z
  .string({ error: requiredOr('a field is a string') })
  .regex(/^(?:(?:metadata|context|user)\..+|event\.name)$/s, {
    error: (issue) =>
      `unknown field ${JSON.stringify(issue.input)}: use metadata.<key>, context.<key>, user.<key> or event.name`,
  });

/** What rules and templates can read about one entry: built once per entry, read by every candidate. */
export type Facts = {
  readonly name: string;
  /** Only the usable keys (the first 20, DESIGN §2). */
  readonly metadata: FlatObject | undefined;
  readonly context: FlatObject | undefined;
  readonly user: FlatObject;
};

export type Present = Exclude<Scalar, null>;
/** Reads one field; `undefined` when it is absent or `null` (both count as missing). */
export type FieldReader = (facts: Facts) => Present | undefined;

/** Compiles a field path (already validated by `FieldSchema`) into a reader. */
export function compileField(field: string): FieldReader {
  // eslint-disable-next-line @typescript-eslint/no-implied-eval -- generated from JSON literals, see readSource
  return new Function('facts', `${readSource(field, 'v')} return v;`) as FieldReader;
}

/**
 * JavaScript statements that declare `name` as the field's value in `facts`, `undefined` when
 * it is missing (absent or null). Compiled conditions and templates are generated functions
 * (see `condition.ts`): V8 then gives every field its own monomorphic property load, where one
 * shared closure would make a single megamorphic keyed load for all fields (about a third more
 * decision time on the bench workload). The key enters the source only as a JSON string literal, always a valid,
 * inert JS string literal. A key naming an `Object.prototype` member is read only when the object
 * has it as its own property.
 */
export function readSource(field: string, name: string): string {
  if (field === 'event.name') return `const ${name} = facts.name;`;
  const dot = field.indexOf('.');
  const root = field.slice(0, dot);
  if (root !== 'metadata' && root !== 'context' && root !== 'user') {
    throw new Error(`unknown field root "${root}": validate messages with MessageSchema first`);
  }
  const key = field.slice(dot + 1);
  const literal = JSON.stringify(key);
  const own = isPrototypeKey(key) ? ` && Object.hasOwn(facts.${root}, ${literal})` : '';
  return `const ${name} = facts.${root} !== undefined${own} ? (facts.${root}[${literal}] ?? undefined) : undefined;`;
}
