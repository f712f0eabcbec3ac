import type { ClickHouseClient } from '@clickhouse/client';
import { ClickHouseError } from '@clickhouse/client';
import type { DayPartition } from './day-parts.ts';
import { dayPartitions, isClean } from './day-parts.ts';
import type { Sql } from './sql.ts';
import { ident, raw, sql } from './sql.ts';
import { QueryTooLong, ServiceUnavailable } from '../../errors.ts';
import type { FactsFilter, TimeRange } from '../../ports/audit-reader.ts';

/** ClickHouse's code for a query stopped by `max_execution_time`. */
const TIMEOUT_EXCEEDED = '159';
const SNAPSHOT_TRIES = 3;
const DAY = 86_400_000;

const dayOf = (ms: number) => new Date(ms).toISOString().slice(0, 10);

/**
 * Reads `decision_facts` for the stats API, every decision once (DESIGN §5) without paying
 * `FINAL` for all of it: a clean day partition (one merged part, see `isClean`) is read plainly,
 * every other day of the range with `FINAL`, in one `UNION ALL`. The partitions are looked up
 * before and after the query; if a clean day changed meanwhile (an insert into a past day, a
 * merge), its plain read may have seen a row twice, so the query runs again. Every query has a
 * time limit; one that runs past it is the asker's to narrow (`QueryTooLong`), not a failure.
 */
export class FactsReader {
  constructor(
    private readonly client: ClickHouseClient,
    private readonly database: string,
    private readonly maxSeconds = 10,
  ) {}

  /**
   * The rows of `build(facts)`, where `facts` is a subquery of the decisions in the range; none when
   * no decision is stored in the range's days (so an aggregate over nothing is the caller's zero).
   */
  query<T>(range: TimeRange, filter: FactsFilter, build: (facts: Sql) => Sql): Promise<T[]> {
    return this.snapshot(range, filter, [] as T[], (facts) => this.run<T>(build(facts)));
  }

  /** Two queries over the same decisions, side by side, between one look-up of the partitions and the next. */
  both<A, B>(
    range: TimeRange,
    filter: FactsFilter,
    first: (facts: Sql) => Sql,
    second: (facts: Sql) => Sql,
  ): Promise<[A[], B[]]> {
    return this.snapshot(range, filter, [[], []] as [A[], B[]], (facts) =>
      Promise.all([this.run<A>(first(facts)), this.run<B>(second(facts))]),
    );
  }

  private async snapshot<R>(
    range: TimeRange,
    filter: FactsFilter,
    none: R,
    read: (facts: Sql) => Promise<R>,
  ): Promise<R> {
    const days = { from: dayOf(range.from), to: dayOf(Math.max(range.from, range.to - 1)) };
    for (let attempt = 1; ; attempt++) {
      const before = await this.partitions(days);
      // No decision in the range (or no table yet): nothing to count, and no table to name.
      if (before.length === 0) return none;
      const result = await read(this.facts(before, range, filter));
      const after = await this.partitions(days);
      if (sameCleanDays(before, after) || attempt === SNAPSHOT_TRIES) return result;
    }
  }

  /** Rows of any query, with the time limit and the error mapping of the stats API. */
  async run<T>(query: Sql): Promise<T[]> {
    try {
      const result = await this.client.query({
        query: query.text,
        format: 'JSONEachRow',
        clickhouse_settings: { max_execution_time: this.maxSeconds },
      });
      return await result.json<T>();
    } catch (error) {
      if (error instanceof ClickHouseError && error.code === TIMEOUT_EXCEEDED)
        throw new QueryTooLong(
          `the query ran past its limit of ${this.maxSeconds} s: ask for a shorter range or a coarser bucket`,
        );
      throw unavailable();
    }
  }

  private partitions(days: { from: string; to: string }): Promise<DayPartition[]> {
    return dayPartitions(this.client, this.database, 'decision_facts', days).catch(() => {
      throw unavailable();
    });
  }

  private facts(partitions: readonly DayPartition[], range: TimeRange, filter: FactsFilter): Sql {
    const table = sql`${ident(this.database)}.decision_facts`;
    const inRange = conditions(range, filter);
    // A day wholly inside the range needs no test of `at`: not reading that column is a third of
    // the cost of a count over ten million decisions.
    const anyTime = conditions(undefined, filter);
    const whole = (p: DayPartition) => {
      const start = Date.parse(p.day);
      return range.from <= start && start + DAY <= range.to;
    };
    const days = (keep: (p: DayPartition) => boolean) => partitions.filter(keep).map((p) => p.day);
    const cleanWhole = days((p) => isClean(p) && whole(p));
    const cleanEdge = days((p) => isClean(p) && !whole(p));
    const dirty = days((p) => !isClean(p));
    const branches: Sql[] = [];
    if (cleanWhole.length > 0)
      branches.push(sql`SELECT * FROM ${table} WHERE day IN ${tuple(cleanWhole)} AND ${anyTime}`);
    if (cleanEdge.length > 0)
      branches.push(sql`SELECT * FROM ${table} WHERE day IN ${tuple(cleanEdge)} AND ${inRange}`);
    if (dirty.length > 0)
      branches.push(sql`SELECT * FROM ${table} FINAL WHERE day IN ${tuple(dirty)} AND ${inRange}`);
    if (branches.length === 0) branches.push(sql`SELECT * FROM ${table} WHERE 0`);
    return raw(`(${branches.map((branch) => branch.text).join(' UNION ALL ')})`);
  }
}

// The service's own message stays in our logs: it names databases and hosts.
const unavailable = () =>
  new ServiceUnavailable('stats', 'the analytics store (ClickHouse) did not answer; retry shortly');

function conditions(range: TimeRange | undefined, filter: FactsFilter): Sql {
  const parts: Sql[] = [range === undefined ? sql`1` : sql`at >= ${range.from} AND at < ${range.to}`];
  if (filter.message !== undefined) parts.push(sql`message_id = ${filter.message}`);
  if (filter.channel !== undefined) parts.push(sql`channel = ${filter.channel}`);
  // Fragments of `sql` templates only: every value in them is a quoted literal already.
  return raw(parts.map((part) => part.text).join(' AND '));
}

/** `(v1, v2, …)` for `IN`, each value a literal. */
const tuple = (values: readonly string[]): Sql => raw(`(${values.map((v) => sql`${v}`.text).join(', ')})`);

function sameCleanDays(before: readonly DayPartition[], after: readonly DayPartition[]): boolean {
  const now = new Map(after.map((p) => [p.day, p.names.join(',')]));
  return before.filter(isClean).every((p) => now.get(p.day) === p.names.join(','));
}
