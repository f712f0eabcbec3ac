import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { flatten } from '../../api/routes/compat/flatten.ts';
import { entryOfIntercomEvent } from '../../api/routes/compat/intercom-events.ts';
import { entryOfSegmentCall } from '../../api/routes/compat/segment-calls.ts';
import { orderedMetadataJson } from '../../api/sdk/metadata.ts';
import { entryOfLine } from '../../bin/ingest-command.ts';
import { metadataOf, logEntryRow } from '../../pipeline/adapters/clickhouse/audit-rows.ts';
import { NdjsonLogFile } from '../../pipeline/adapters/file/ndjson-log-file.ts';
import { decodePack, decodeTrustedPack, encodePack } from '../../pipeline/adapters/nats/packs.ts';
import { keysInSentOrder, sentOrderOf } from '../../pipeline/core/key-order.ts';
import type { LogEntry, TrackEntry } from '../../pipeline/core/log-entry.ts';
import type { FlatObject } from '../../pipeline/core/scalar.ts';
import { entryJson, parseInSentOrder } from '../../pipeline/json-in-sent-order.ts';
import { parseEntry } from '../../pipeline/parse-entry.ts';
import type { Pairs } from './sent-metadata.ts';
import {
  expectFirstTwentyUsable,
  flattened,
  pairsArb,
  pairsJson,
  trackLine,
  treeArb,
  treeJson,
} from './sent-metadata.ts';

/**
 * The first 20 metadata keys in the order sent (issue #18, item 4) through every path that reads or
 * writes an entry's JSON without a service: a log line read (the matcher, the audit writer) and
 * written back, a file replayed, a line of `nudge ingest --file`, the audit's metadata column read
 * back for a replay of recorded traffic, Segment's and Intercom's flattening, and the SDK's body.
 * The paths through NATS, the API and the catalog are in `live-paths.test.ts`.
 */

const RUNS = { numRuns: 100 };
const asTrack = (entry: LogEntry): TrackEntry => {
  if (entry.type !== 'track') throw new Error(`a ${entry.type} entry`);
  return entry;
};
const where = () => 'test';

describe('a log line, as the matcher, the audit writer and a replay read it', () => {
  it('gives the first 20 keys sent, and is written back in the order sent', () => {
    fc.assert(
      fc.property(pairsArb, (pairs) => {
        const line = trackLine({ id: 'e', name: 'n', user_id: 'u', received_at: 1 }, pairs);
        const entry = asTrack(parseEntry(line, where));
        expectFirstTwentyUsable(entry.metadata, pairs);
        expectFirstTwentyUsable(
          asTrack(decodeTrustedPack(new TextEncoder().encode(line))[0] as LogEntry).metadata,
          pairs,
        );
        // Written back (the log's writer, a file written from the log): read again, the same keys.
        const written = entryJson(entry);
        expectFirstTwentyUsable(asTrack(parseEntry(written, where)).metadata, pairs);
        expectFirstTwentyUsable(asTrack(decodePack(encodePack([entry]), 'x')[0] as LogEntry).metadata, pairs);
        // The common case is written as it always was.
        if (sentOrderOf(entry.metadata ?? {}) === undefined) expect(written).toBe(JSON.stringify(entry));
        expect(JSON.parse(written)).toEqual(JSON.parse(line));
      }),
      RUNS,
    );
  });

  it('reads the order only in the rare case: two keys or more, one integer-like', () => {
    const twenty = Array.from({ length: 20 }, (_, i): [string, number] => [`k${i}`, i]);
    const read = (pairs: Pairs) =>
      asTrack(parseEntry(trackLine({ id: 'e', name: 'n', user_id: 'u', received_at: 1 }, pairs), where));
    expect(sentOrderOf(read([['99', 1]]).metadata ?? {})).toBeUndefined();
    expect(sentOrderOf(read([...twenty, ['k20', 1]]).metadata ?? {})).toBeUndefined();
    expect(
      sentOrderOf(
        read([
          ['k0', 0],
          ['99', 1],
        ]).metadata ?? {},
      ),
    ).toEqual(['k0', '99']);
    expect(sentOrderOf(read([...twenty, ['99', 1]]).metadata ?? {})).toEqual([
      ...twenty.map(([k]) => k),
      '99',
    ]);
  });

  it('keeps a repeated key at its first place with its last value, as JSON.parse does', () => {
    const pairs = Array.from({ length: 21 }, (_, i): [string, number] => [`k${i}`, i]);
    const line = `{"type":"track","id":"e","name":"n","user_id":"u","received_at":1,"metadata":${pairsJson([
      ...pairs.slice(0, 19),
      ['k0', 100],
      ['99', 1],
      ...pairs.slice(19),
    ])}}`;
    const metadata = asTrack(parseEntry(line, where)).metadata ?? {};
    expect(keysInSentOrder(metadata).slice(0, 20)).toEqual([...pairs.slice(0, 19).map(([k]) => k), '99']);
    expect(metadata['k0']).toBe(100);
  });
});

describe('a file replayed (nudge replay --log)', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'nudge-key-order-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('gives each entry its first 20 keys sent', async () => {
    const file = join(dir, 'log.ndjson');
    await fc.assert(
      fc.asyncProperty(fc.array(pairsArb, { minLength: 1, maxLength: 20 }), async (cases) => {
        const lines = cases.map((pairs, i) =>
          trackLine({ id: `e${i}`, name: 'n', user_id: 'u', received_at: i }, pairs),
        );
        await writeFile(file, lines.join('\n'));
        const entries: LogEntry[] = [];
        for await (const batch of new NdjsonLogFile(file).batches()) entries.push(...batch);
        expect(entries).toHaveLength(cases.length);
        cases.forEach((pairs, i) => {
          expectFirstTwentyUsable(asTrack(entries[i] as LogEntry).metadata, pairs);
        });
      }),
      { numRuns: 20 },
    );
  });
});

describe('a line of nudge ingest --file', () => {
  it('is stamped with its first 20 keys sent, __proto__ kept as data', () => {
    fc.assert(
      fc.property(pairsArb, fc.boolean(), (pairs, keepTime) => {
        const line = trackLine({ id: 'e', name: 'n', user_id: 'u', received_at: 5 }, pairs);
        const entry = asTrack(entryOfLine(line, 'f:1', keepTime, 9));
        expect(entry.received_at).toBe(keepTime ? 5 : 9);
        expectFirstTwentyUsable(entry.metadata, pairs);
        expectFirstTwentyUsable(asTrack(parseEntry(entryJson(entry), where)).metadata, pairs);
      }),
      RUNS,
    );
  });
});

describe("the audit's metadata column, read back for a replay of recorded traffic", () => {
  it('is written in the order sent and read with it', () => {
    fc.assert(
      fc.property(pairsArb, (pairs) => {
        const entry = parseEntry(
          trackLine({ id: 'e', name: 'n', user_id: 'u', received_at: 1 }, pairs),
          where,
        );
        const column = logEntryRow(entry, { partition: 0, seq: 1 }).metadata;
        expectFirstTwentyUsable(metadataOf(column), pairs);
      }),
      RUNS,
    );
  });
});

describe("Segment's and Intercom's flattening", () => {
  it('gives the first 20 dotted keys sent', () => {
    fc.assert(
      fc.property(treeArb, (tree) => {
        const expected = flattened(tree);
        const segment = `{"type":"track","userId":"u","event":"e","properties":${treeJson(tree)}}`;
        const call = entryOfSegmentCall(JSON.parse(segment), undefined, () => parseInSentOrder(segment));
        if (!('entry' in call)) throw new Error(call.problem);
        expectFirstTwentyUsable(call.entry['metadata'] as FlatObject, expected);
        const intercom = `{"event_name":"e","created_at":1,"user_id":"u","metadata":${treeJson(tree)}}`;
        const event = entryOfIntercomEvent(JSON.parse(intercom), () => parseInSentOrder(intercom));
        if (!('entry' in event)) throw new Error(event.problem);
        expectFirstTwentyUsable(event.entry['metadata'] as FlatObject, expected);
      }),
      RUNS,
    );
  });

  it('leaves out the keys past the budget in the order sent, and keeps __proto__ as data', () => {
    const sent = Array.from({ length: 21 }, (_, i) => `"k${i}":${i}`);
    const text = `{${[...sent, '"9":9', '"__proto__":1'].join(',')}}`;
    const result = flatten(JSON.parse(text), 'properties', 20, () => parseInSentOrder(text));
    expect(result).toEqual({
      flat: Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`k${i}`, i])),
      dropped: ['k20', '9', '__proto__'],
    });
    // A text that cannot be read again leaves JavaScript's order, never fewer keys.
    const unread = flatten(JSON.parse(text), 'properties', 20, () => undefined);
    expect('flat' in unread && Object.keys(unread.flat)).toHaveLength(20);
    const all = flatten(JSON.parse(text), 'properties');
    if (!('flat' in all)) throw new Error(all.problem);
    expect(Object.hasOwn(all.flat, '__proto__')).toBe(true);
    expect(Object.getPrototypeOf(all.flat)).toBe(Object.prototype);
  });
});

describe("the SDK's metadata: an object in JavaScript's order, a Map or pairs in their own", () => {
  it('writes a Map and pairs in their order, which the API reads as sent', () => {
    fc.assert(
      fc.property(pairsArb, (pairs) => {
        for (const given of [new Map(pairs), pairs]) {
          const text = orderedMetadataJson(given) ?? '';
          const line = `{"type":"track","id":"e","name":"n","user_id":"u","received_at":1,"metadata":${text}}`;
          expectFirstTwentyUsable(asTrack(parseEntry(line, where)).metadata, pairs);
        }
      }),
      RUNS,
    );
    expect(orderedMetadataJson({ a: 1 })).toBeUndefined();
    expect(
      orderedMetadataJson([
        ['a', 1],
        ['b', undefined],
        ['a', 2],
      ]),
    ).toBe('{"a":2}');
  });
});
