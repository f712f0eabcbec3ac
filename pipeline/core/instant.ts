import { z } from 'zod';
import { parseDuration } from './duration.ts';

const DIGITS = /^\d{1,16}$/;
const DATE_ONLY = /^\d{4}-\d{2}-\d{2}$/;
const ZONED = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/;

/**
 * An instant as given: absolute (ms since the epoch), or relative to the moment of asking (`now`,
 * `now-2h`), which only the caller knows: the core reads no clock, so `resolveInstant` is given one.
 */
export type InstantInput = number | { readonly ago: number };

export const resolveInstant = (instant: InstantInput, now: number): number =>
  typeof instant === 'number' ? instant : Math.max(0, now - instant.ago);

/** `now`, or `now-<duration>` (`now-30m`, `now-2h`, `now-7d`): so long before now. */
export function parseRelativeInstant(text: string): { ago: number } | undefined {
  if (text === 'now') return { ago: 0 };
  if (!text.startsWith('now-')) return undefined;
  const ago = parseDuration(text.slice('now-'.length));
  return ago === undefined ? undefined : { ago };
}

/** An absolute or a relative instant (see `parseInstant`, `parseRelativeInstant`). */
export const parseInstantInput = (text: string): InstantInput | undefined =>
  parseRelativeInstant(text) ?? parseInstant(text);

/**
 * An instant as people and programs write one: integer ms since the epoch, an ISO 8601 date
 * (`2026-11-30`, midnight UTC) or date and time with its zone (`2026-11-30T09:00:00Z`,
 * `…+01:00`). A time without a zone is refused rather than read in the server's zone.
 */
export function parseInstant(text: string): number | undefined {
  const ms = DIGITS.test(text)
    ? Number(text)
    : DATE_ONLY.test(text) || ZONED.test(text)
      ? Date.parse(text)
      : Number.NaN;
  return Number.isNaN(ms) || ms < 0 || ms > LATEST_INSTANT_MS ? undefined : ms;
}

/** The end of year 9999 UTC: as far as ISO 8601's four-digit years go, and well inside a JS date. */
export const LATEST_INSTANT_MS = Date.UTC(9999, 11, 31, 23, 59, 59, 999);

export const INSTANT_HINT =
  'integer ms since the epoch (up to the end of year 9999), ISO 8601: a date (2026-11-30, UTC) or a date and time with its zone (2026-11-30T09:00:00Z), or relative to now: now, now-30m, now-2h, now-7d';

/** An instant in a request: absolute, or relative to when the request is answered. */
export const InstantSchema = z.string().transform((text, ctx): InstantInput => {
  const instant = parseInstantInput(text);
  if (instant !== undefined) return instant;
  ctx.addIssue({ code: 'custom', message: `not an instant: ${JSON.stringify(text)}: ${INSTANT_HINT}` });
  return z.NEVER;
});
