import type { ClickHouseClient, Row } from '@clickhouse/client';
import { REPEAT_WINDOW_MS } from '../../core/applied-entries.ts';
import type { LogEntry } from '../../core/log-entry.ts';
import type { Channel } from '../../core/message-schema.ts';
import type { FlatObject } from '../../core/scalar.ts';
import type { HistoryEntry } from '../../core/state-rebuild.ts';
import type {
  RecordedDecision,
  RecordedHistory,
  RecordedLog,
  RecordedPack,
  RecordedWindow,
  UserScope,
} from '../../ports/recorded-log.ts';
import { windowParts } from '../../ports/recorded-log.ts';
import type { Sql } from './sql.ts';
import { metadataOf, stateEntryOf } from './audit-rows.ts';
import { ident, raw, sql } from './sql.ts';

/** How many pairs of queries (entries, decisions) read a window's packs: see `packs`. */
const QUERIES_A_WINDOW = 2;
/** Beyond any stream sequence: a partition without an end to its window. */
const NO_END = 9_000_000_000_000_000;
/** A clock of the ingest API may be slightly behind another's: the repeat record is read from a minute earlier. */
const SKEW_MS = 60_000;

type EntryRow = {
  partition: number;
  seq: string;
  position: number;
  entry_id: string;
  type: LogEntry['type'];
  user_id: string;
  name: string;
  received_at: string;
  created_at: string | null;
  metadata: string;
  context: string;
  attributes: string;
};

type DecisionRow = Omit<RecordedDecision, 'message_version' | 'caps_version' | 'deliver_at'> & {
  caps_version: string;
  deliver_at: string | null;
  partition: number;
  seq: string;
  user_id: string;
  entry_id: string;
  at: string;
  message_version: number;
};

/**
 * The audit in ClickHouse read back as the recorded log (the `RecordedLog` port). Repeated rows
 * (a writer's retry) are dropped as they are met rather than with `FINAL`: every read is sorted
 * by the row's identity, so repeats arrive one after the other.
 */
export class ClickHouseRecordedLog implements RecordedLog {
  constructor(
    private readonly client: ClickHouseClient,
    private readonly database: string,
  ) {}

  async window(from: number, to: number, scope?: UserScope): Promise<RecordedWindow> {
    const rows = await this.rows<{ partition: number; start: string; end: string; entries: string }>(
      sql`SELECT partition, minIf(seq, received_at >= ${from}) AS start, minIf(seq, received_at >= ${to}) AS end,
          countIf(received_at >= ${from} AND received_at < ${to}) AS entries
        FROM ${this.table('log_entries')} GROUP BY partition ORDER BY partition`,
    );
    const partitions = new Map<number, { start: number; end: number | undefined }>();
    let entries = 0;
    for (const row of rows) {
      // minIf over no row is 0, and stream sequences start at 1.
      if (Number(row.start) === 0) continue;
      partitions.set(row.partition, {
        start: Number(row.start),
        end: Number(row.end) === 0 ? undefined : Number(row.end),
      });
      entries += Number(row.entries);
    }
    const whole: RecordedWindow = { from, to, partitions, entries };
    if (scope === undefined) return whole;
    const counted =
      partitions.size === 0 || scope.events.length === 0
        ? undefined
        : (
            await this.rows<{ entries: string; users: string }>(
              sql`SELECT count() AS entries, uniqExact(user_id) AS users FROM ${this.table('log_entries')}
                WHERE ${this.inWindow(whole)} AND ${this.scopeUsers(whole, scope)}`,
            )
          )[0];
    return {
      ...whole,
      entries: Number(counted?.entries ?? 0),
      scope: { events: [...scope.events], users: Number(counted?.users ?? 0), window_entries: entries },
    };
  }

  /**
   * Every recorded entry received before `until`, oldest first, `size` at a time (`RecordedEntries`:
   * what the catalogs are rebuilt from). Streamed: a log of any length, its sort spilled to disk.
   */
  async *entriesBefore(until: number, size = 2_000): AsyncIterable<LogEntry[]> {
    const query = this.open<EntryRow>(
      sql`SELECT partition, seq, position, entry_id, type, user_id, name, received_at, created_at, metadata, context, attributes
        FROM ${this.table('log_entries')} WHERE received_at < ${until} ORDER BY received_at, partition, seq, position`,
    );
    const rows = query.rows();
    try {
      let batch: LogEntry[] = [];
      for (
        let row = rows.take() ?? (await rows.load());
        row !== undefined;
        row = rows.take() ?? (await rows.load())
      ) {
        batch.push(entryOf(row));
        if (batch.length >= size) {
          yield batch;
          batch = [];
        }
      }
      if (batch.length > 0) yield batch;
    } finally {
      query.close();
    }
  }

  async histories(window: RecordedWindow, recentSince: number): Promise<Map<string, RecordedHistory>> {
    if (window.partitions.size === 0 || window.scope?.events.length === 0) return new Map();
    const users =
      window.scope === undefined
        ? sql`user_id IN (SELECT user_id FROM ${this.table('log_entries')} WHERE ${this.inWindow(window)})`
        : this.scopeUsers(window, window.scope);
    return this.historiesOf(users, this.beforeWindow(window), window.from, recentSince);
  }

  async partitionHistories(
    partition: number,
    upTo: number,
    horizonMs: number,
  ): Promise<Map<string, RecordedHistory>> {
    const through = sql`partition = ${partition} AND seq <= ${upTo}`;
    const [latest] = await this.rows<{ at: string }>(
      sql`SELECT max(received_at) AS at FROM ${this.table('log_entries')} WHERE ${through}`,
    );
    const at = Number(latest?.at ?? 0);
    const users = sql`user_id IN (SELECT user_id FROM ${this.table('log_entries')} WHERE ${through})`;
    return this.historiesOf(users, through, at, at - horizonMs);
  }

  /** The histories of `users` in what `before` selects, as of a point at `at`; recent sends from `recentSince` on. */
  private async historiesOf(
    users: Sql,
    before: Sql,
    at: number,
    recentSince: number,
  ): Promise<Map<string, RecordedHistory>> {
    const histories = new Map<
      string,
      {
        sends: RecordedHistory['sends'][number][];
        sent: RecordedHistory['sent'][number][];
        entries: HistoryEntry[];
      }
    >();
    const of = (user: string) => {
      let history = histories.get(user);
      if (history === undefined) {
        history = { sends: [], sent: [], entries: [] };
        histories.set(user, history);
      }
      return history;
    };
    // A send counts at its delivery: a held send at its deliver_at (`decide` folds it so), which may
    // be after the point although it was decided before it, so the recent ones are chosen by it too.
    const sentAt = raw('ifNull(deliver_at, at)');
    const sends = await this.rows<{ user_id: string; message_id: string; count: string; last_at: string }>(
      sql`SELECT user_id, message_id, count() AS count, max(${sentAt}) AS last_at FROM ${this.table('decisions')} FINAL
        WHERE outcome = 'sent' AND ${users} AND ${before} GROUP BY user_id, message_id`,
    );
    for (const row of sends)
      of(row.user_id).sends.push({
        message_id: row.message_id,
        count: Number(row.count),
        last_at: Number(row.last_at),
      });
    const sent = await this.rows<{
      user_id: string;
      message_id: string;
      message_version: number;
      sent_at: string;
      channel: Channel;
    }>(
      // Not aliased `at`: ClickHouse would read the alias for the column inside its own expression.
      sql`SELECT user_id, message_id, message_version, ${sentAt} AS sent_at, channel FROM ${this.table('decisions')} FINAL
        WHERE outcome = 'sent' AND ${users} AND ${before} AND ${sentAt} >= ${recentSince}`,
    );
    for (const row of sent)
      of(row.user_id).sent.push({
        message_id: row.message_id,
        message_version: row.message_version,
        at: Number(row.sent_at),
        channel: row.channel,
      });
    const since = at - REPEAT_WINDOW_MS - SKEW_MS;
    const entries = await this.rows<{
      user_id: string;
      entry_id: string;
      type: string;
      received_at: string;
      attributes: string;
      effect: number;
      seq: string;
      position: number;
      partition: number;
    }>(
      sql`SELECT partition, seq, position, user_id, entry_id, type, received_at, attributes,
          type != 'track' OR (user_id, entry_id, received_at) IN (
            SELECT user_id, entry_id, at FROM ${this.table('decisions')} WHERE ${users} AND at >= ${since}
          ) AS effect
        FROM ${this.table('log_entries')}
        WHERE ${users} AND ${before} AND (type != 'track' OR received_at >= ${since})
        ORDER BY partition, seq, position`,
    );
    let last = '';
    for (const row of entries) {
      const key = `${row.partition}:${row.seq}:${row.position}`;
      if (key === last) continue; // a row written twice
      last = key;
      of(row.user_id).entries.push({
        id: row.entry_id,
        at: Number(row.received_at),
        effect: row.effect === 1,
        change:
          row.type === 'track' ? undefined : stateEntryOf({ ...row, received_at: Number(row.received_at) }),
      });
    }
    return histories;
  }

  async *packs(window: RecordedWindow): AsyncIterable<RecordedPack> {
    if (window.scope?.events.length === 0) return;
    const users = window.scope === undefined ? raw('1') : this.scopeUsers(window, window.scope);
    // A query reads the whole table whatever partitions it asks for (the tables are ordered by
    // user), and sorting its rows is most of its cost: so a few partitions a query, in log order,
    // rather than one (eight scans of the table for a window of eight partitions took more than
    // twice the time of two).
    const open = (group: RecordedWindow) => {
      const inGroup = sql`${this.inWindow(group)} AND ${users}`;
      return {
        entries: this.open<EntryRow>(
          sql`SELECT partition, seq, position, entry_id, type, user_id, name, received_at, created_at, metadata, context, attributes
            FROM ${this.table('log_entries')} WHERE ${inGroup} ORDER BY partition, seq, position`,
        ),
        decisions: this.open<DecisionRow>(
          sql`SELECT partition, seq, user_id, entry_id, at, message_id, message_version, caps_version, outcome, reason, subject, body, explanation, deliver_at
            FROM ${this.table('decisions')} WHERE ${inGroup} ORDER BY partition, seq, user_id, entry_id, at, message_id`,
        ),
      };
    };
    const groups = windowParts(window, QUERIES_A_WINDOW);
    // The next group's queries are sent while this one is read: ClickHouse sorts them meanwhile,
    // rather than the reader waiting for each sort in turn.
    let next = groups[0] === undefined ? undefined : open(groups[0]);
    try {
      for (let i = 0; i < groups.length; i++) {
        const current = next;
        if (current === undefined) break;
        const following = groups[i + 1];
        next = following === undefined ? undefined : open(following);
        yield* this.groupPacks(current.entries.rows(), current.decisions.rows());
      }
    } finally {
      // Read to its end or not (a replay that failed), a query sent ahead is closed.
      next?.entries.close();
      next?.decisions.close();
    }
  }

  /** The packs of some partitions, from their entries and their decisions in log order. */
  private async *groupPacks(
    entries: Rows<EntryRow>,
    decisions: Rows<DecisionRow>,
  ): AsyncIterable<RecordedPack> {
    let pendingDecision = decisions.take() ?? (await decisions.load());
    let lastDecision: DecisionRow | undefined;
    let lastEntry: EntryRow | undefined;
    let pack:
      | { partition: number; seq: number; entries: { entry: LogEntry; decisions: RecordedDecision[] }[] }
      | undefined;
    const byEntry = new Map<string, RecordedDecision[]>();
    const close = async (): Promise<RecordedPack | undefined> => {
      if (pack === undefined) return undefined;
      // The pack's recorded decisions, read up to the next pack's place, go to their entries.
      byEntry.clear();
      while (pendingDecision !== undefined && notAfter(pendingDecision, pack)) {
        const row = pendingDecision;
        // Rows come sorted by their identity: a row written twice follows its first.
        if (
          !sameDecision(row, lastDecision) &&
          row.partition === pack.partition &&
          Number(row.seq) === pack.seq
        ) {
          lastDecision = row;
          const entryKey = `${row.user_id}\n${row.entry_id}\n${row.at}`;
          const list = byEntry.get(entryKey);
          if (list === undefined) byEntry.set(entryKey, [recorded(row)]);
          else list.push(recorded(row));
        }
        pendingDecision = decisions.take() ?? (await decisions.load());
      }
      // An entry repeated in one message has the decisions once, on its first occurrence.
      const seen = new Set<string>();
      for (const item of pack.entries) {
        const key = `${item.entry.user_id}\n${item.entry.id}\n${item.entry.received_at}`;
        item.decisions = seen.has(key) ? [] : (byEntry.get(key) ?? []);
        seen.add(key);
      }
      return { partition: pack.partition, seq: pack.seq, entries: pack.entries };
    };
    for (
      let row = entries.take() ?? (await entries.load());
      row !== undefined;
      row = entries.take() ?? (await entries.load())
    ) {
      if (
        lastEntry !== undefined &&
        row.partition === lastEntry.partition &&
        row.seq === lastEntry.seq &&
        row.position === lastEntry.position
      )
        continue; // a row written twice
      lastEntry = row;
      if (pack !== undefined && (pack.partition !== row.partition || pack.seq !== Number(row.seq))) {
        const done = await close();
        if (done !== undefined) yield done;
        pack = undefined;
      }
      pack ??= { partition: row.partition, seq: Number(row.seq), entries: [] };
      pack.entries.push({ entry: entryOf(row), decisions: [] });
    }
    const done = await close();
    if (done !== undefined) yield done;
  }

  private table(name: string): Sql {
    return sql`${ident(this.database)}.${ident(name)}`;
  }

  /** `seq` within the window of its partition: one array lookup a row rather than a condition per partition. */
  private inWindow(window: RecordedWindow): Sql {
    const { starts, ends } = this.bounds(window);
    return sql`seq >= arrayElement(${starts}, partition + 1) AND seq < arrayElement(${ends}, partition + 1)`;
  }

  /** The users with a track entry of one of the scope's events in the window. */
  private scopeUsers(window: RecordedWindow, scope: UserScope): Sql {
    return sql`user_id IN (SELECT user_id FROM ${this.table('log_entries')}
      WHERE type = 'track' AND has(${scope.events}, name) AND ${this.inWindow(window)})`;
  }

  private beforeWindow(window: RecordedWindow): Sql {
    const { starts } = this.bounds(window);
    return sql`seq < arrayElement(${starts}, partition + 1)`;
  }

  private bounds(window: RecordedWindow): { starts: number[]; ends: number[] } {
    const count = Math.max(...window.partitions.keys()) + 1;
    const starts: number[] = [];
    const ends: number[] = [];
    for (let p = 0; p < count; p++) {
      const bounds = window.partitions.get(p);
      // A partition without a window: nothing is in it, everything is before it.
      starts.push(bounds?.start ?? NO_END);
      ends.push(bounds === undefined ? 0 : (bounds.end ?? NO_END));
    }
    return { starts, ends };
  }

  private async rows<T>(query: Sql): Promise<T[]> {
    const result = await this.client.query({
      query: query.text,
      format: 'JSONEachRow',
      clickhouse_settings: { max_execution_time: 0 },
    });
    return result.json<T>();
  }

  /**
   * A query sent now, its rows read later (`rows`), or closed unread (`close`). A window's sort may
   * be larger than memory allows: ClickHouse may spill it to disk.
   */
  private open<T>(query: Sql): { rows(): Rows<T>; close(): void } {
    const sent = this.client.query({
      query: query.text,
      format: 'JSONEachRow',
      clickhouse_settings: { max_execution_time: 0, max_bytes_before_external_sort: String(1 << 30) },
    });
    // Not awaited until read: a failure then is thrown by the read, not left unhandled meanwhile.
    sent.catch(() => undefined);
    return {
      rows: () =>
        new Rows<T>(
          (async function* () {
            const result = await sent;
            for await (const rows of result.stream()) yield rows;
          })(),
        ),
      close: () => {
        void sent.then(
          (result) => {
            result.close();
          },
          () => undefined,
        );
      },
    };
  }
}

/**
 * The rows of a streamed query, one at a time: `take` gives the next row of the chunk at hand
 * without waiting, and only when a chunk runs out does `load` wait for the next. An async
 * iterator of rows cost a promise and a turn of the microtask queue a row: 9% of a replay's time.
 */
class Rows<T> {
  private chunk: readonly Row[] = [];
  private at = 0;

  constructor(private readonly chunks: AsyncIterator<Row[]>) {}

  /** The next row of the chunk at hand, or undefined when it is used up (then `load`). */
  take(): T | undefined {
    const row = this.chunk[this.at];
    if (row === undefined) return undefined;
    this.at++;
    return row.json<T>();
  }

  /** The next row, waiting for the next chunk that has one; undefined once the rows have ended. */
  async load(): Promise<T | undefined> {
    for (;;) {
      const next = this.take();
      if (next !== undefined) return next;
      const chunk = await this.chunks.next();
      if (chunk.done === true) return undefined;
      this.chunk = chunk.value;
      this.at = 0;
    }
  }
}

/** The decision row is of the pack's place or one before it, in log order. */
const notAfter = (row: DecisionRow, pack: { partition: number; seq: number }): boolean =>
  row.partition < pack.partition || (row.partition === pack.partition && Number(row.seq) <= pack.seq);

/** The same decision row (its identity: what the read is sorted by). */
const sameDecision = (a: DecisionRow, b: DecisionRow | undefined): boolean =>
  b !== undefined &&
  a.partition === b.partition &&
  a.seq === b.seq &&
  a.user_id === b.user_id &&
  a.entry_id === b.entry_id &&
  a.at === b.at &&
  a.message_id === b.message_id;

const recorded = (row: DecisionRow): RecordedDecision => ({
  message_id: row.message_id,
  message_version: row.message_version,
  caps_version: Number(row.caps_version),
  outcome: row.outcome,
  reason: row.reason,
  subject: row.subject,
  body: row.body,
  explanation: row.explanation,
  deliver_at: row.deliver_at === null ? null : Number(row.deliver_at),
});

function entryOf(row: EntryRow): LogEntry {
  const received_at = Number(row.received_at);
  if (row.type !== 'track') return stateEntryOf({ ...row, received_at });
  return {
    type: 'track',
    id: row.entry_id,
    name: row.name,
    user_id: row.user_id,
    received_at,
    created_at: row.created_at === null ? undefined : Number(row.created_at),
    metadata: metadataOf(row.metadata),
    context: JSON.parse(row.context) as FlatObject,
  };
}
