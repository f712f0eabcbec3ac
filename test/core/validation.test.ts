import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { formatIssues, formatPath, validate } from '../../pipeline/core/validation.ts';

describe('formatPath', () => {
  it.each([
    [[], ''],
    [['trigger', 'where', 'all', 1, 'op'], 'trigger.where.all[1].op'],
    [[0, 'id'], '[0].id'],
    [['metadata', 'file name'], 'metadata["file name"]'],
    [['metadata', '1st'], 'metadata["1st"]'],
    [['a', '__proto__'], 'a.__proto__'],
  ] as const)('%j is %j', (path, text) => {
    expect(formatPath(path)).toBe(text);
  });
});

describe('validate', () => {
  it('returns the value when valid', () => {
    expect(validate(z.object({ a: z.number() }), { a: 1 })).toEqual({ ok: true, value: { a: 1 } });
  });

  it('returns every problem as "path: message", "(root)" for the whole input', () => {
    const schema = z.strictObject({ a: z.number(), b: z.string() });
    expect(validate(schema, { a: 'x', c: 1 })).toEqual({
      ok: false,
      errors: [
        'a: Invalid input: expected number, received string',
        'b: required',
        '(root): unknown key "c"',
      ],
    });
  });

  it('formatIssues prefixes a base path', () => {
    const result = z.object({ a: z.number() }).safeParse({});
    expect(result.success).toBe(false);
    if (!result.success)
      expect(formatIssues(result.error.issues, ['messages', 2])).toEqual(['messages[2].a: required']);
  });
});
