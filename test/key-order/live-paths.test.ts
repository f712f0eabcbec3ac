import fc from 'fast-check';
import type { JetStreamManager } from 'nats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { userHash } from '../../api/auth/user-hash.ts';
import { LIMITS } from '../../api/routes/ingest/ingest.schemas.ts';
import { trackBody } from '../../api/sdk/metadata.ts';
import { entryOfLine } from '../../bin/ingest-command.ts';
import { LogPublisher } from '../../pipeline/adapters/nats/log-stream.ts';
import { decodePack, decodeTrustedPack } from '../../pipeline/adapters/nats/packs.ts';
import { RedisEventCatalog } from '../../pipeline/adapters/redis/redis-event-catalog.ts';
import type { LogEntry, TrackEntry } from '../../pipeline/core/log-entry.ts';
import { USABLE_METADATA_KEYS } from '../../pipeline/core/log-entry.ts';
import { parseEntry } from '../../pipeline/parse-entry.ts';
import { apiFixture, CLIENT_SECRET, PARTITIONS } from '../api/api-fixture.ts';
import type { Pairs, Tree } from './sent-metadata.ts';
import {
  expectFirstTwentyUsable,
  flattened,
  pairsArb,
  trackLine,
  treeArb,
  treeJson,
} from './sent-metadata.ts';

/**
 * The first 20 metadata keys in the order sent (issue #18, item 4) through the real API and NATS:
 * `POST /v1/events` (one entry and a batch), the SDK's track body with a Map or pairs, Segment's `/v1/track`
 * and `/v1/batch`, Intercom's `/events`, and `nudge ingest`'s publisher; each entry read back from
 * the log as the matcher reads it and as the audit writer does, and the event catalog's keys on
 * Redis. A body with a `__proto__` key is refused by the API, as it always was.
 */

type Fixture = Awaited<ReturnType<typeof apiFixture>>;
let f: Fixture;
let jsm: JetStreamManager;
let catalog: RedisEventCatalog;

beforeAll(async () => {
  f = await apiFixture();
  jsm = await f.nc.jetstreamManager();
  catalog = new RedisEventCatalog(f.redis, f.ns);
});
afterAll(async () => {
  await f.close();
});

/** The log read so far: each entry as the matcher reads it, and as the audit writer does. */
const log = { next: 1, matcher: [] as LogEntry[], audit: [] as LogEntry[] };
async function readLog(): Promise<void> {
  const last = (await jsm.streams.info(f.ns.logStream)).state.last_seq;
  for (; log.next <= last; log.next++) {
    const message = await jsm.streams.getMessage(f.ns.logStream, { seq: log.next });
    log.matcher.push(...decodePack(message.data, `seq ${log.next}`));
    log.audit.push(...decodeTrustedPack(message.data));
  }
}
/** The track entry the predicate finds in the log, as the matcher and the audit writer read it. */
async function logged(find: (entry: LogEntry) => boolean): Promise<[TrackEntry, TrackEntry]> {
  await readLog();
  const matcher = log.matcher.find(find);
  const audit = log.audit.find(find);
  if (matcher?.type !== 'track' || audit?.type !== 'track') throw new Error('no such track entry in the log');
  return [matcher, audit];
}
async function expectLogged(find: (entry: LogEntry) => boolean, pairs: Pairs): Promise<TrackEntry> {
  const [matcher, audit] = await logged(find);
  expectFirstTwentyUsable(matcher.metadata, pairs);
  expectFirstTwentyUsable(audit.metadata, pairs);
  return audit;
}

/** The catalog's keys of one event: the first 20 sent, in their order. */
async function expectCatalogued(entry: TrackEntry, pairs: Pairs): Promise<void> {
  await catalog.record([entry]);
  const keys = (await catalog.keys(entry.name)).map(({ key }) => key);
  expect(keys).toEqual(pairs.slice(0, USABLE_METADATA_KEYS).map(([key]) => key));
}

const post = (
  url: string,
  payload: string,
  authorization = `Bearer ${f.keys.ingest}`,
  headers: Record<string, string> = {},
) =>
  f.app.inject({
    method: 'POST',
    url,
    payload,
    headers: { ...headers, authorization, 'content-type': 'application/json' },
  });
const segmentKey = () => `Basic ${Buffer.from(`${f.keys.ingest}:`).toString('base64')}`;
const hasProto = (pairs: Pairs) => pairs.some(([key]) => key === '__proto__');
/**
 * What the API refuses in a body (prototype pollution): a `__proto__` key anywhere, or a
 * `constructor` key holding an object with a `prototype` key.
 */
const treeHasProto = (tree: Tree) =>
  tree.some(
    ([key, node]) =>
      key === '__proto__' ||
      (node !== null &&
        typeof node === 'object' &&
        'object' in node &&
        (hasProto(node.object) || (key === 'constructor' && node.object.some(([k]) => k === 'prototype')))),
  );

let run = 0;

describe('the first 20 metadata keys sent, through the API and NATS', () => {
  it('POST /v1/events, one entry and a batch; the catalog', async () => {
    await fc.assert(
      fc.asyncProperty(pairsArb, async (pairs) => {
        const n = ++run;
        const user = `u-keys-${n}`;
        const refused = hasProto(pairs);
        const one = await post(
          '/v1/events',
          trackLine({ id: `one-${n}`, name: `one-${n}`, user_id: user }, pairs),
        );
        const batch = await post(
          '/v1/events',
          `{"events":[{"type":"identify","user_id":"${user}","attributes":{"99":1}},${trackLine({ id: `batch-${n}`, name: 'batch', user_id: user }, pairs)}]}`,
        );
        if (refused) {
          expect(one.statusCode, one.body).toBe(400);
          expect(batch.statusCode, batch.body).toBe(400);
          return;
        }
        expect(one.statusCode, one.body).toBe(202);
        expect(batch.statusCode, batch.body).toBe(202);
        const ignored = pairs.slice(USABLE_METADATA_KEYS).map(([key]) => key);
        if (ignored.length > 0)
          expect((JSON.parse(one.body) as { warnings: string[] }).warnings[0]).toContain(
            `stored but ignored: ${ignored.join(', ')}`,
          );
        const stored = await expectLogged((e) => e.id === `one-${n}`, pairs);
        await expectLogged((e) => e.id === `batch-${n}`, pairs);
        await expectCatalogued(stored, pairs);
      }),
      { numRuns: 25 },
    );
  });

  it("the SDK's track with a Map or pairs, through POST /v1/client/events", async () => {
    await fc.assert(
      fc.asyncProperty(pairsArb, fc.boolean(), async (pairs, asMap) => {
        const n = ++run;
        const userId = `u-sdk-${n}`;
        const body = trackBody({
          id: `sdk-${n}`,
          name: 'sdk',
          metadata: asMap ? new Map(pairs) : pairs,
          context: { url: 'x' },
        });
        const answer = await post('/v1/client/events', body, `Bearer ${f.keys.client}`, {
          'x-nudge-user-id': encodeURIComponent(userId),
          'x-nudge-user-hash': userHash(CLIENT_SECRET, userId),
        });
        if (hasProto(pairs)) {
          expect(answer.statusCode, answer.body).toBe(400);
          return;
        }
        expect(answer.statusCode, answer.body).toBe(202);
        await expectLogged((e) => e.id === `sdk-${n}`, pairs);
      }),
      { numRuns: 15 },
    );
  });

  it("Segment's /v1/track and /v1/batch and Intercom's /events, flattened", async () => {
    await fc.assert(
      fc.asyncProperty(treeArb, async (tree) => {
        const n = ++run;
        const user = `u-compat-${n}`;
        const properties = treeJson(tree);
        const call = (id: string) =>
          `{"type":"track","messageId":"${id}","userId":"${user}","event":"segment","properties":${properties}}`;
        const answers = [
          await post('/v1/track', call(`seg-${n}`), segmentKey()),
          await post(
            '/v1/batch',
            `{"batch":[{"type":"identify","userId":"${user}"},${call(`segb-${n}`)}]}`,
            segmentKey(),
          ),
          await post(
            '/events',
            `{"event_name":"intercom-${n}","created_at":1700000000,"user_id":"${user}","metadata":${properties}}`,
          ),
        ];
        if (treeHasProto(tree)) {
          for (const answer of answers) expect(answer.statusCode, answer.body).toBe(400);
          return;
        }
        for (const answer of answers) expect(answer.statusCode, answer.body).toBeLessThan(300);
        // Past the ingest's key limit the rest is left out (and named in a warning).
        const expected = flattened(tree).slice(0, LIMITS.keys);
        await expectLogged((e) => e.id === `seg-${n}`, expected);
        await expectLogged((e) => e.id === `segb-${n}`, expected);
        await expectLogged((e) => e.type === 'track' && e.name === `intercom-${n}`, expected);
      }),
      { numRuns: 15 },
    );
  });

  it("nudge ingest's lines, published to the log", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(pairsArb, { minLength: 1, maxLength: 8 }), async (cases) => {
        const n = ++run;
        const publisher = new LogPublisher(f.nc.jetstream(), f.ns, PARTITIONS);
        const lines = cases.map((pairs, i) =>
          trackLine({ id: `file-${n}-${i}`, name: 'file', user_id: `u-file-${i}`, received_at: 5 }, pairs),
        );
        await publisher.publish(lines.map((line, i) => entryOfLine(line, `f:${i + 1}`, true, 9)));
        await publisher.flush();
        for (const [i, pairs] of cases.entries()) await expectLogged((e) => e.id === `file-${n}-${i}`, pairs);
      }),
      { numRuns: 10 },
    );
  });

  it('the catalog keeps __proto__ as a key like any other', async () => {
    await fc.assert(
      fc.asyncProperty(pairsArb, async (pairs) => {
        const n = ++run;
        const entry = parseEntry(
          trackLine({ id: `c-${n}`, name: `catalog-${n}`, user_id: 'u', received_at: 1 }, pairs),
          () => 'line',
        );
        if (entry.type !== 'track') throw new Error('not a track');
        await expectCatalogued(entry, pairs);
      }),
      { numRuns: 25 },
    );
  });
});
