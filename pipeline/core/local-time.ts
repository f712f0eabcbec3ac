const MINUTE_MS = 60_000;
export const DAY_MS = 86_400_000;
/** Offsets change at most once in this span (they change at most twice a year), so a bucket whose two ends agree has one offset throughout. */
const BUCKET_MS = 15 * MINUTE_MS;
const MEMO_LIMIT = 4_096;

/** Wall-clock time in an IANA zone at an instant. */
export type LocalTime = {
  /** Days since 1970-01-01 in local time. */
  readonly date: number;
  /** 0 = Sunday … 6 = Saturday. */
  readonly weekday: number;
  /** Minutes since local midnight, 0 … 1439. */
  readonly minutes: number;
};

/**
 * An IANA time zone, read from the runtime's own tz data through `Intl` (pure: no clock). The
 * offsets it finds are memoised per 15-minute bucket; a memo changes speed, never results.
 */
export class TimeZone {
  private readonly format: Intl.DateTimeFormat;
  private readonly offsets = new Map<number, number>();

  constructor(readonly name: string) {
    this.format = new Intl.DateTimeFormat('en-US', {
      timeZone: name,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
  }

  localTime(at: number): LocalTime {
    const wall = at + this.offsetAt(at);
    const date = Math.floor(wall / DAY_MS);
    return { date, weekday: mod(date + 4, 7), minutes: Math.floor((wall - date * DAY_MS) / MINUTE_MS) };
  }

  /**
   * The first instant at which the local time reaches `wall` (ms since the local epoch): a wall
   * time that happens twice (clocks going back) gives the first; one skipped (clocks going
   * forward) gives the end of the gap, the first instant past it.
   */
  instantOf(wall: number): number {
    // Offsets a day either side: at most one change lies between them.
    const before = this.offsetAt(wall - DAY_MS);
    const after = this.offsetAt(wall + DAY_MS);
    const candidates = [wall - before, wall - after].filter((at) => at + this.offsetAt(at) === wall);
    if (candidates.length > 0) return Math.min(...candidates);
    return this.changeBetween(wall - after, wall - before);
  }

  /**
   * Every instant at which the local time is `wall`, in order: two when clocks going back repeat
   * it, one otherwise, and for a wall time skipped (clocks going forward) the end of the gap.
   */
  instantsOf(wall: number): number[] {
    const before = this.offsetAt(wall - DAY_MS);
    const after = this.offsetAt(wall + DAY_MS);
    const found = [...new Set([wall - before, wall - after])]
      .filter((at) => at + this.offsetAt(at) === wall)
      .sort((a, b) => a - b);
    return found.length > 0 ? found : [this.changeBetween(wall - after, wall - before)];
  }

  /** The instants in `(from, to]` at which the offset changes (clocks jump), in order. */
  changesBetween(from: number, to: number): number[] {
    const changes: number[] = [];
    for (let start = from; start < to; start += DAY_MS) {
      const end = Math.min(to, start + DAY_MS);
      if (this.offsetAt(start) !== this.offsetAt(end)) changes.push(this.changeBetween(start, end));
    }
    return changes;
  }

  /** The first instant in (from, to] whose offset differs from the one at `from`; changes fall on whole minutes. */
  private changeBetween(from: number, to: number): number {
    const offset = this.offsetAt(from);
    let low = Math.floor(from / MINUTE_MS);
    let high = Math.ceil(to / MINUTE_MS);
    while (high - low > 1) {
      const middle = Math.floor((low + high) / 2);
      if (this.offsetAt(middle * MINUTE_MS) === offset) low = middle;
      else high = middle;
    }
    return high * MINUTE_MS;
  }

  /** Local time minus UTC, in ms, at an instant. */
  offsetAt(at: number): number {
    const bucket = Math.floor(at / BUCKET_MS);
    const known = this.offsets.get(bucket);
    if (known !== undefined) return known;
    const start = this.exactOffset(bucket * BUCKET_MS);
    const end = this.exactOffset(bucket * BUCKET_MS + BUCKET_MS - 1);
    if (start !== end) return this.exactOffset(at);
    if (this.offsets.size >= MEMO_LIMIT) this.offsets.clear();
    this.offsets.set(bucket, start);
    return start;
  }

  private exactOffset(at: number): number {
    const fields: Record<string, number> = {};
    for (const part of this.format.formatToParts(at)) fields[part.type] = Number(part.value);
    const wall = Date.UTC(
      fields['year'] ?? 1970,
      (fields['month'] ?? 1) - 1,
      fields['day'] ?? 1,
      fields['hour'] ?? 0,
      fields['minute'] ?? 0,
      fields['second'] ?? 0,
    );
    return wall - (at - mod(at, 1000));
  }
}

const zones = new Map<string, TimeZone>();

/** One `TimeZone` per name, so every schedule in that zone shares its memo. */
export function timeZone(name: string): TimeZone {
  let zone = zones.get(name);
  if (zone === undefined) {
    zone = new TimeZone(name);
    zones.set(name, zone);
  }
  return zone;
}

/**
 * The zone named, when the runtime knows it (an IANA name: `Asia/Tokyo`), else undefined. For
 * names that come from users' attributes: a name no zone answers to is not remembered, so a user
 * cannot grow the table of zones.
 */
export function knownTimeZone(name: string): TimeZone | undefined {
  const known = zones.get(name);
  if (known !== undefined) return known;
  try {
    return timeZone(name);
  } catch {
    return undefined;
  }
}

export function mod(a: number, n: number): number {
  return ((a % n) + n) % n;
}
