// Limits as the tuning panel reads and writes them, in the message language: durations such as
// `15m`, `2h`, `1d` (or `0`), counts such as `3`, and `none` for no limit.

import { duration } from './message-format.js';

const UNIT_MS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };
const DURATION = /^(\d{1,9})(ms|s|m|h|d|w)$/;
const NONE = new Set(['', 'none', 'no limit']);

/** The ms of a duration as typed ("15m", "2h", "0", or an integer of ms); undefined when it is none. */
export function parseDuration(text) {
  const typed = text.trim();
  if (/^\d{1,15}$/.test(typed)) return Number(typed);
  const match = DURATION.exec(typed);
  return match ? Number(match[1]) * UNIT_MS[match[2]] : undefined;
}

/** A count as typed: "3" → 3, "", "none" → null (no limit); undefined when it is neither. */
export function parseCount(text) {
  const typed = text.trim().toLowerCase();
  if (NONE.has(typed)) return null;
  return /^\d{1,9}$/.test(typed) ? Number(typed) : undefined;
}

export const DURATION_PROBLEM = 'is not a duration: a number and a unit (s, m, h, d, w) such as 30m, or 0';
export const COUNT_PROBLEM = 'is not a count: a whole number such as 3, or none';

/** A count in words: null → "none". */
export const countText = (n) => (n === null || n === undefined ? 'none' : String(n));

/** A message's frequency in words: "at most once per 2h, 3 times in all". */
export function frequencyText({ min_interval: interval, max_sends: most }) {
  const once = interval > 0 ? `at most once per ${duration(interval)}` : 'every time';
  if (most === null || most === undefined) return once;
  return `${once}, ${most === 1 ? 'once' : `${most} times`} in all`;
}

/** A global cap in words: "2 sends per 1d", "5 email sends per 1w". */
export const capText = (cap) =>
  `${cap.max} ${cap.channel ? `${cap.channel} ` : ''}${cap.max === 1 ? 'send' : 'sends'} per ${duration(cap.per)}`;

const DURATION_LADDER = [
  60_000, 300_000, 900_000, 1_800_000, 3_600_000, 7_200_000, 14_400_000, 28_800_000, 43_200_000, 86_400_000,
  172_800_000, 259_200_000, 604_800_000, 1_209_600_000, 2_419_200_000,
];
const COUNT_LADDER = [1, 2, 3, 4, 5, 7, 10, 15, 20, 30, 50, 100];

/** Five rungs of a ladder around `current` (two below it, two above), or its first five. */
function around(ladder, current) {
  const at = ladder.findIndex((rung) => rung >= current);
  const middle = at === -1 ? ladder.length - 1 : at;
  const start = Math.max(0, Math.min(middle - 2, ladder.length - 5));
  const rungs = ladder.slice(start, start + 5);
  if (rungs.includes(current)) return rungs;
  return [...(at === -1 ? rungs.slice(1) : rungs.slice(0, 4)), current].sort((a, b) => a - b);
}

/**
 * Values to sweep, as typed, around the limit in force: `2h` → "30m, 1h, 2h, 4h, 8h"; a count 3 →
 * "1, 2, 3, 4, 5"; no maximum → "1, 2, 3, 5, none"; no interval → "0, 15m, 1h, 4h, 1d".
 */
export function suggestedValues(kind, current) {
  if (kind === 'duration')
    return (current > 0 ? around(DURATION_LADDER, current) : [0, 900_000, 3_600_000, 14_400_000, 86_400_000])
      .map(duration)
      .join(', ');
  if (current === null) return '1, 2, 3, 5, none';
  return around(COUNT_LADDER, current).join(', ');
}

/**
 * The values of a sweep as typed, in order from the least to the most (none last): durations or
 * counts (`none` only where the limit may be none, 0 only where it may be 0). Each is a number of
 * ms or a count, or null.
 */
export function parseValues(text, { kind, none, zero }) {
  const parts = text
    .split(',')
    .map((part) => part.trim())
    .filter((part) => part !== '');
  if (parts.length === 0) return { problem: 'give at least one value' };
  if (parts.length > 50) return { problem: `${parts.length} values: a sweep takes 50 at most` };
  const values = [];
  for (const part of parts) {
    const value = kind === 'duration' ? parseDuration(part) : parseCount(part);
    if (value === undefined)
      return { problem: `“${part}” ${kind === 'duration' ? DURATION_PROBLEM : COUNT_PROBLEM}` };
    if (value === null && !none) return { problem: '“none”: this limit always has a value' };
    if (value === 0 && !zero) return { problem: `“${part}”: this limit must be more than 0` };
    if (!values.includes(value)) values.push(value);
  }
  values.sort((a, b) => (a === null ? 1 : b === null ? -1 : a - b));
  return { values };
}
