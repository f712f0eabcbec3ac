import { describe, expect, it } from 'vitest';
import { DurationSchema, formatDuration, parseDuration } from '../../pipeline/core/duration.ts';
import { validate } from '../../pipeline/core/validation.ts';

describe('parseDuration', () => {
  it.each([
    ['500ms', 500],
    ['30s', 30_000],
    ['15m', 900_000],
    ['1h', 3_600_000],
    ['1d', 86_400_000],
    ['1w', 604_800_000],
    ['90m', 5_400_000],
    ['0s', 0],
    ['007s', 7_000],
    ['999999999w', 999_999_999 * 604_800_000],
  ] as const)('%s is %i ms', (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  it.each([
    '',
    'h',
    '1',
    '1H',
    '1 h',
    ' 1h',
    '1h ',
    '1.5h',
    '-1h',
    '+1h',
    '1hr',
    '1y',
    '1h30m',
    '1000000000s',
    '1e3s',
  ])('%j is not a duration', (text) => {
    expect(parseDuration(text)).toBeUndefined();
  });
});

describe('DurationSchema', () => {
  it.each([
    ['1h', 3_600_000],
    [0, 0],
    [1_500, 1_500],
  ] as const)('%j parses to %i', (input, ms) => {
    expect(DurationSchema.parse(input)).toBe(ms);
  });

  it.each([
    ['1x', '(root): invalid duration "1x": use a number and a unit (ms, s, m, h, d, w), such as "15m"'],
    [
      1.5,
      '(root): a duration is a string such as "30s", "15m", "1h", "1d", "1w" or an integer of milliseconds',
    ],
    [
      true,
      '(root): a duration is a string such as "30s", "15m", "1h", "1d", "1w" or an integer of milliseconds',
    ],
    [
      null,
      '(root): a duration is a string such as "30s", "15m", "1h", "1d", "1w" or an integer of milliseconds',
    ],
  ] as const)('%j is rejected: %s', (input, error) => {
    expect(validate(DurationSchema, input)).toEqual({ ok: false, errors: [error] });
  });

  it('a negative number is rejected', () => {
    expect(validate(DurationSchema, -1).ok).toBe(false);
  });
});

describe('formatDuration', () => {
  it.each([
    [604_800_000, '1w'],
    [1_209_600_000, '2w'],
    [86_400_000, '1d'],
    [691_200_000, '8d'],
    [3_600_000, '1h'],
    [5_400_000, '90m'],
    [60_000, '1m'],
    [30_000, '30s'],
    [1_500, '1500ms'],
    [1, '1ms'],
    [0, '0ms'],
  ] as const)('%i ms is %s', (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
  });

  it('round-trips through parseDuration', () => {
    for (const ms of [0, 1, 999, 1_000, 61_000, 3_600_000, 90_000_000, 604_800_000 * 3]) {
      expect(parseDuration(formatDuration(ms))).toBe(ms);
    }
  });
});
