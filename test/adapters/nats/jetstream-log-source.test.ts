import { randomUUID } from 'node:crypto';
import { connect } from 'nats';
import type { JetStreamManager, NatsConnection } from 'nats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JetStreamLogSource } from '../../../pipeline/adapters/nats/jetstream-log-source.ts';
import { ensureLogStream, LogPublisher } from '../../../pipeline/adapters/nats/log-stream.ts';
import { loadConfig } from '../../../pipeline/config/load-config.ts';
import type { LogEntry } from '../../../pipeline/core/log-entry.ts';
import { partitionOf } from '../../../pipeline/core/partition.ts';
import { Namespace } from '../../../pipeline/namespace.ts';
import type { LogMessage } from '../../../pipeline/ports/log-source.ts';

const PARTITIONS = 2;
const ns = new Namespace(`t_${randomUUID().replaceAll('-', '').slice(0, 20)}`);
let nc: NatsConnection;
let jsm: JetStreamManager;
let source: JetStreamLogSource;
/** A source whose pulls last 20 s: a read that waited for a pull to fill or expire would outlive its test. */
let patient: JetStreamLogSource;

/** A user of partition 0, so every entry below lands on one partition. */
const user =
  Array.from({ length: 100 }, (_, i) => `u${i}`).find((u) => partitionOf(u, PARTITIONS) === 0) ?? '';
const entry = (i: number): LogEntry => ({
  type: 'track',
  id: `e${i}`,
  name: 'upload_completed',
  user_id: user,
  received_at: 1_793_610_000_000 + i,
  metadata: {},
  context: {},
});

async function publish(from: number, count: number, oneByOne: boolean): Promise<void> {
  const publisher = new LogPublisher(nc.jetstream(), ns, PARTITIONS);
  const entries = Array.from({ length: count }, (_, i) => entry(from + i));
  if (oneByOne) for (const e of entries) await publisher.publish([e]);
  else await publisher.publish(entries);
  await publisher.flush();
}

const ids = (messages: readonly LogMessage[]) => messages.flatMap((m) => m.entries.map((e) => e.id));

beforeAll(async () => {
  nc = await connect({ servers: loadConfig(process.env).natsUrl });
  jsm = await nc.jetstreamManager();
  await ensureLogStream(jsm, ns, PARTITIONS);
  source = new JetStreamLogSource(nc.jetstream(), ns);
  patient = new JetStreamLogSource(nc.jetstream(), ns, 20_000);
});

afterAll(async () => {
  await source.close();
  await patient.close();
  await jsm.streams.delete(ns.logStream).catch(() => false);
  await nc.drain();
});

describe('JetStreamLogSource on a real JetStream', () => {
  it('waits for a first message, and returns it without waiting for a full batch', async () => {
    const reading = patient.read(0, 0, 100);
    await publish(0, 1, true);
    const messages = await reading;
    expect(ids(messages)).toEqual(['e0']);
    expect(messages[0]?.seq).toBe(1);
  }, 10_000);

  it('goes on from where it is, in sequence, up to the batch size', async () => {
    await publish(1, 5, true);
    const seen: LogMessage[] = [];
    while (seen.length < 5) seen.push(...(await patient.read(0, seen.at(-1)?.seq ?? 1, 3)));
    expect(ids(seen)).toEqual(['e1', 'e2', 'e3', 'e4', 'e5']);
    expect(seen.map((m) => m.seq)).toEqual([2, 3, 4, 5, 6]);
  }, 10_000);

  it('returns none when nothing comes, and reads again from any position it is asked for', async () => {
    expect(await source.read(0, 6, 100)).toEqual([]);
    // A new owner (or a fenced one) starts again from its committed position.
    const again = await source.read(0, 3, 100);
    expect(ids(again)).toEqual(['e3', 'e4', 'e5']);
    expect(await source.read(1, 0, 100)).toEqual([]);
  });

  it('sets aside a line that is not an entry, with its place and problem, and reads the rest of its message and after', async () => {
    const lenient = new JetStreamLogSource(nc.jetstream(), ns, 1_000);
    const start = (await jsm.streams.info(ns.logStream)).state.last_seq;
    // A producer publishing straight to the log, with a bad line between two good ones.
    const good = (i: number) => JSON.stringify({ ...entry(900 + i), received_at: 1_793_610_000_000 });
    await nc
      .jetstream()
      .publish(ns.logSubject(0), new TextEncoder().encode([good(1), '{"type":"track"', good(2)].join('\n')));
    await nc.jetstream().publish(ns.logSubject(0), new Uint8Array([0xff, 0xfe]));
    await publish(903, 1, true);
    const read: LogMessage[] = [];
    while (read.length < 3) read.push(...(await lenient.read(0, read.at(-1)?.seq ?? start, 100)));
    await lenient.close();
    expect(ids(read)).toEqual(['e901', 'e902', 'e903']);
    const malformed = read.flatMap((m) => (m.malformed ?? []).map((line) => ({ ...line, seq: m.seq })));
    expect(malformed).toEqual([
      {
        seq: read[0]?.seq,
        index: 1,
        line: '{"type":"track"',
        problem: expect.stringMatching(/seq \d+ line 2: invalid JSON/) as string,
      },
      {
        seq: (read[0]?.seq ?? 0) + 1,
        index: 0,
        line: '\ufffd\ufffd',
        problem: expect.stringMatching(/seq \d+: the body is not UTF-8/) as string,
      },
    ]);
    expect(read.every((m) => m.stored_at === undefined || m.stored_at > 1_700_000_000_000)).toBe(true);
  });

  it.each([2, 16])(
    'hands over every message of a busy log to a slow owner, in order, %i at a time',
    async (batch) => {
      const many = Array.from({ length: 20_000 }, (_, i) => ({
        ...entry(100_000 * batch + i),
        user_id: `busy-${i % 500}`,
      }));
      const busy = new JetStreamLogSource(nc.jetstream(), ns);
      const start = (await jsm.streams.info(ns.logStream)).state.last_seq;
      const read: string[][] = [[], []];
      const owners = [0, 1].map(async (partition) => {
        let after = start;
        let idle = 0;
        while (idle < 2) {
          // Small batches (the buffer stops and starts its consume every 4 batches) and some work between reads.
          const messages = await busy.read(partition, after, batch);
          idle = messages.length === 0 ? idle + 1 : 0;
          read[partition]?.push(...ids(messages));
          after = messages.at(-1)?.seq ?? after;
          await new Promise((resolve) => setTimeout(resolve, 5));
        }
      });
      const publisher = new LogPublisher(nc.jetstream(), ns, PARTITIONS);
      for (let i = 0; i < many.length; i += 1_000) await publisher.publish(many.slice(i, i + 1_000));
      await publisher.flush();
      await Promise.all(owners);
      await busy.close();
      for (const partition of [0, 1]) {
        const expected = many
          .filter((e) => partitionOf(e.user_id, PARTITIONS) === partition)
          .map((e) => e.id);
        expect(read[partition]).toEqual(expected);
      }
    },
    60_000,
  );
});
