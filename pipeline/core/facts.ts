import { z } from 'zod';
import type { FlatObject, Scalar } from './scalar.ts';
import { ownKeyReader } from './scalar.ts';
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
  if (field === 'event.name') return (facts) => facts.name;
  const dot = field.indexOf('.');
  const root = field.slice(0, dot);
  const read = ownKeyReader(field.slice(dot + 1));
  switch (root) {
    case 'metadata':
      return (facts) => read(facts.metadata);
    case 'context':
      return (facts) => read(facts.context);
    case 'user':
      return (facts) => read(facts.user);
    default:
      throw new Error(`unknown field root "${root}": validate messages with MessageSchema first`);
  }
}
