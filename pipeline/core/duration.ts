import { z } from 'zod';

const UNIT_MS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 } as const;
const DURATION_TEXT = /^(\d{1,9})(ms|s|m|h|d|w)$/;

/**
 * The longest duration: 100 years (365.25 days each). Longer means "never" to no one, and a time
 * plus a duration must stay an exact integer of ms (below 2^53), as everything reading it expects.
 */
export const MAX_DURATION_MS = 100 * 365.25 * 86_400_000;

/** `"30s" "15m" "1h" "1d" "1w"` (and `"500ms"`) or a non-negative integer of milliseconds, up to 100 years. */
export const DurationSchema = z
  .union([z.int().nonnegative(), z.string()], {
    error: 'a duration is a string such as "30s", "15m", "1h", "1d", "1w" or an integer of milliseconds',
  })
  .transform((input, ctx) => {
    const ms = typeof input === 'number' ? input : parseDuration(input);
    if (ms === undefined) {
      ctx.addIssue({
        code: 'custom',
        message: `invalid duration ${JSON.stringify(input)}: use a number and a unit (ms, s, m, h, d, w), such as "15m"`,
      });
      return z.NEVER;
    }
    if (ms > MAX_DURATION_MS) {
      ctx.addIssue({ code: 'custom', message: `duration ${JSON.stringify(input)} is longer than 100 years` });
      return z.NEVER;
    }
    return ms;
  });

export function parseDuration(text: string): number | undefined {
  const match = DURATION_TEXT.exec(text);
  if (!match) return undefined;
  return Number(match[1]) * UNIT_MS[match[2] as keyof typeof UNIT_MS];
}

/** The shortest exact text for a duration, for explanations: 3600000 → "1h", 5400000 → "90m". */
export function formatDuration(ms: number): string {
  for (const unit of ['w', 'd', 'h', 'm', 's'] as const) {
    if (ms >= UNIT_MS[unit] && ms % UNIT_MS[unit] === 0) return `${ms / UNIT_MS[unit]}${unit}`;
  }
  return `${ms}ms`;
}
