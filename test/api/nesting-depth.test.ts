import { describe, expect, it } from 'vitest';
import { nestsDeeperThan } from '../../api/plugins/nesting-depth.ts';

const nested = (levels: number, open = '{"a":', close = '}') =>
  JSON.parse(open.repeat(levels) + '1' + close.repeat(levels)) as unknown;

describe('nestsDeeperThan', () => {
  it('counts objects and arrays alike, up to the limit and not one past it', () => {
    expect(nestsDeeperThan(nested(64), 64)).toBe(false);
    expect(nestsDeeperThan(nested(65), 64)).toBe(true);
    expect(nestsDeeperThan(nested(65, '[', ']'), 64)).toBe(true);
    expect(nestsDeeperThan(nested(64, '[{"x":', '}]'), 128)).toBe(false);
    expect(nestsDeeperThan(nested(65, '[{"x":', '}]'), 128)).toBe(true);
  });

  it('finds a deep branch beside shallow ones, and never overflows on a body nested thousands deep', () => {
    expect(nestsDeeperThan({ a: 1, b: [1, 2, { c: nested(70) }], d: 'x' }, 64)).toBe(true);
    expect(nestsDeeperThan({ events: [{ metadata: { a: 1 } }, { context: {} }] }, 64)).toBe(false);
    expect(nestsDeeperThan(nested(10_000), 64)).toBe(true);
    expect(nestsDeeperThan('a string', 0)).toBe(false);
  });
});
