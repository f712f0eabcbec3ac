import { randomUUID } from 'node:crypto';
import type { JetStreamManager, NatsConnection } from 'nats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectNats } from '../../../pipeline/adapters/nats/connect-nats.ts';
import { JetStreamPublisher, PublishFailed } from '../../../pipeline/adapters/nats/jetstream-publisher.ts';
import { LogAppender } from '../../../pipeline/adapters/nats/log-appender.ts';
import { ensureLogStream } from '../../../pipeline/adapters/nats/log-stream.ts';
import { decodePack, PACK_BYTES } from '../../../pipeline/adapters/nats/packs.ts';
import { loadConfig } from '../../../pipeline/config/load-config.ts';
import type { LogEntry } from '../../../pipeline/core/log-entry.ts';
import { partitionOf } from '../../../pipeline/core/partition.ts';
import { Namespace } from '../../../pipeline/namespace.ts';

const PARTITIONS = 4;
const NOW = 1_793_610_000_000;
const base = `t_${randomUUID().replaceAll('-', '').slice(0, 20)}`;
const made: Namespace[] = [];
let nc: NatsConnection;
let jsm: JetStreamManager;
let publisher: JetStreamPublisher;

/** A namespace of this file's own, with a log stream unless told otherwise. */
async function namespace(withLog = true): Promise<Namespace> {
  const ns = new Namespace(`${base}_${made.length}`);
  made.push(ns);
  if (withLog) await ensureLogStream(jsm, ns, PARTITIONS);
  return ns;
}

const entry = (user: string, id: string, metadata: Record<string, string> = {}): LogEntry => ({
  type: 'track',
  id,
  name: 'upload_completed',
  user_id: user,
  received_at: NOW,
  metadata,
});

/** The first user named `<prefix><n>` of the partition. */
const userOf = (partition: number, prefix = 'user-'): string =>
  Array.from({ length: 1_000 }, (_, i) => `${prefix}${i}`).find(
    (u) => partitionOf(u, PARTITIONS) === partition,
  ) ?? '';

/** Every message of the namespace's log stream, in stream order. */
async function messagesOf(ns: Namespace): Promise<{ subject: string; size: number; entries: LogEntry[] }[]> {
  const info = await jsm.streams.info(ns.logStream);
  const messages = [];
  for (let seq = info.state.first_seq; seq <= info.state.last_seq && info.state.messages > 0; seq++) {
    const message = await jsm.streams.getMessage(ns.logStream, { seq });
    messages.push({
      subject: message.subject,
      size: message.data.length,
      entries: decodePack(message.data, `seq ${seq}`),
    });
  }
  return messages;
}

const ids = (entries: readonly LogEntry[]) => entries.map((e) => e.id);

beforeAll(async () => {
  nc = await connectNats(loadConfig(process.env).natsUrl, 'log appender test');
  jsm = await nc.jetstreamManager();
  publisher = new JetStreamPublisher(nc);
});

afterAll(async () => {
  publisher.close();
  for (const ns of made) await jsm.streams.delete(ns.logStream).catch(() => false);
  await nc.drain();
});

describe('LogAppender on a real JetStream', () => {
  it('packs the entries of concurrent callers per partition: every entry once, on its partition, in each user’s order', async () => {
    const ns = await namespace();
    const appender = new LogAppender(publisher, ns, PARTITIONS);
    const users = Array.from({ length: 12 }, (_, i) => `crowd-${i}`);
    const calls = Array.from({ length: 200 }, (_, c) =>
      Array.from({ length: 1 + (c % 3) }, (_, j) =>
        entry(users[(c * 7 + j) % users.length] ?? '', `c${c}.${j}`),
      ),
    );
    const loners = ['alone-0', 'alone-1', 'alone-2'];
    const sequential = loners.map((user) =>
      Array.from({ length: 30 }, (_, i) => entry(user, `${user}.${i}`)),
    );
    const [crowd, alone] = await Promise.all([
      Promise.all(calls.map((call) => appender.append(call))),
      Promise.all(
        sequential.map(async (entries) => {
          const outcomes = [];
          for (const e of entries) outcomes.push(...(await appender.append([e])));
          return outcomes;
        }),
      ),
    ]);
    expect(crowd).toEqual(calls.map((call) => call.map(() => 'stored')));
    expect(alone.flat().every((outcome) => outcome === 'stored')).toBe(true);

    const appended = [...calls.flat(), ...sequential.flat()];
    const messages = await messagesOf(ns);
    const stored = messages.flatMap((m) => m.entries);
    expect(new Set(users.map((u) => partitionOf(u, PARTITIONS))).size).toBe(PARTITIONS);
    expect(messages.length).toBeLessThan(appended.length);
    expect(ids(stored).sort()).toEqual(ids(appended).sort());
    for (const { subject, entries } of messages) {
      for (const e of entries) expect(subject).toBe(ns.logSubject(partitionOf(e.user_id, PARTITIONS)));
    }
    for (const user of [...users, ...loners]) {
      expect(ids(stored.filter((e) => e.user_id === user))).toEqual(
        ids(appended.filter((e) => e.user_id === user)),
      );
    }
  });

  it('answers duplicate for the very same append repeated after its acknowledgement, storing it once', async () => {
    const ns = await namespace();
    const appender = new LogAppender(publisher, ns, PARTITIONS);
    const lone = [entry('repeat-user', 'lone')];
    const batch = [entry('repeat-user', 'b1'), entry('repeat-user', 'b2'), entry('repeat-user', 'b3')];
    expect(await appender.append(lone)).toEqual(['stored']);
    expect(await appender.append(lone)).toEqual(['duplicate']);
    expect(await appender.append(batch)).toEqual(['stored', 'stored', 'stored']);
    expect(await appender.append(batch)).toEqual(['duplicate', 'duplicate', 'duplicate']);
    expect((await messagesOf(ns)).map((m) => ids(m.entries))).toEqual([['lone'], ['b1', 'b2', 'b3']]);
  });

  it('gives each entry the outcome of its own pack', async () => {
    const ns = await namespace();
    const appender = new LogAppender(publisher, ns, PARTITIONS);
    const seen = entry(userOf(0), 'seen');
    expect(await appender.append([seen])).toEqual(['stored']);
    expect(await appender.append([seen, entry(userOf(1), 'new')])).toEqual(['duplicate', 'stored']);
  });

  it('resolves with no outcomes for no entries', async () => {
    const ns = await namespace(false);
    await expect(new LogAppender(publisher, ns, PARTITIONS).append([])).resolves.toEqual([]);
  });

  it('rejects a caller whose namespace has no log stream, without affecting a caller in a good one', async () => {
    const good = await namespace();
    const missing = await namespace(false);
    const [refused, stored] = await Promise.allSettled([
      new LogAppender(publisher, missing, PARTITIONS).append([entry('x', 'm1'), entry('y', 'm2')]),
      new LogAppender(publisher, good, PARTITIONS).append([entry('x', 'g1'), entry('y', 'g2')]),
    ]);
    expect(refused.status).toBe('rejected');
    if (refused.status === 'rejected') expect(refused.reason).toBeInstanceOf(PublishFailed);
    expect(stored).toEqual({ status: 'fulfilled', value: ['stored', 'stored'] });
    expect(ids((await messagesOf(good)).flatMap((m) => m.entries)).sort()).toEqual(['g1', 'g2']);
  });

  it('rejects a caller once its log stream is gone', async () => {
    const ns = await namespace();
    const appender = new LogAppender(publisher, ns, PARTITIONS);
    expect(await appender.append([entry('gone-user', 'before')])).toEqual(['stored']);
    await jsm.streams.delete(ns.logStream);
    await expect(appender.append([entry('gone-user', 'after')])).rejects.toThrow(PublishFailed);
  });

  it('rejects a caller if any pack holding its entries failed, and only the callers of that pack', async () => {
    const ns = await namespace(false);
    await jsm.streams.add({ name: ns.logStream, subjects: [ns.logSubject(0)] });
    const appender = new LogAppender(publisher, ns, PARTITIONS);
    const [both, onlyGood, onlyBad] = await Promise.allSettled([
      appender.append([entry(userOf(0), 'both-0'), entry(userOf(1), 'both-1')]),
      appender.append([entry(userOf(0, 'good-'), 'good')]),
      appender.append([entry(userOf(1, 'bad-'), 'bad')]),
    ]);
    expect(both.status).toBe('rejected');
    expect(onlyBad.status).toBe('rejected');
    expect(onlyGood).toEqual({ status: 'fulfilled', value: ['stored'] });
    await expect(appender.append([entry(userOf(0), 'later')])).resolves.toEqual(['stored']);
    await expect(appender.append([entry(userOf(1), 'later')])).rejects.toThrow(PublishFailed);
  });

  it('rejects a caller whose first pack was stored once a later pack of its partition is refused', async () => {
    const ns = await namespace(false);
    await jsm.streams.add({ name: ns.logStream, subjects: [ns.logSubjects], max_msg_size: 300_000 });
    const appender = new LogAppender(publisher, ns, PARTITIONS);
    const sized = (id: string, bytes: number) => entry('split-user', id, { blob: 'x'.repeat(bytes) });
    await expect(appender.append([sized('fits', 250_000), sized('too-large', 350_000)])).rejects.toThrow(
      PublishFailed,
    );
    expect(ids((await messagesOf(ns)).flatMap((m) => m.entries))).toEqual(['fits']);
  });

  it('stores a large entry, and splits a partition’s entries over several messages once they pass PACK_BYTES', async () => {
    const ns = await namespace();
    const appender = new LogAppender(publisher, ns, PARTITIONS);
    const large = (id: string) =>
      entry(
        'large-user',
        id,
        Object.fromEntries(Array.from({ length: 50 }, (_, k) => [`k${k}`, `${id}${k}`.padEnd(4_000, '.')])),
      );
    expect(await appender.append([large('one')])).toEqual(['stored']);
    const many = ['l1', 'l2', 'l3', 'l4', 'l5', 'l6'].map(large);
    expect(await appender.append(many)).toEqual(many.map(() => 'stored'));

    const messages = await messagesOf(ns);
    expect(messages[0]?.entries).toEqual([large('one')]);
    const rest = messages.slice(1);
    expect(rest.length).toBeGreaterThan(1);
    for (const message of rest) expect(message.size).toBeLessThanOrEqual(PACK_BYTES);
    expect(rest.flatMap((m) => m.entries)).toEqual(many);
  });

  it('stores two packs whose ids differ only in where a newline inside an id falls', async () => {
    const ns = await namespace();
    const appender = new LogAppender(publisher, ns, PARTITIONS);
    expect(await appender.append([entry('nl-user', 'a\nb'), entry('nl-user', 'c')])).toEqual([
      'stored',
      'stored',
    ]);
    expect(await appender.append([entry('nl-user', 'a'), entry('nl-user', 'b\nc')])).toEqual([
      'stored',
      'stored',
    ]);
    expect(ids((await messagesOf(ns)).flatMap((m) => m.entries))).toEqual(['a\nb', 'c', 'a', 'b\nc']);
  });

  it('stores two lone entries whose ids differ only in a lone surrogate', async () => {
    const ns = await namespace();
    const appender = new LogAppender(publisher, ns, PARTITIONS);
    expect(await appender.append([entry('surrogate-user', 'id-\ud800')])).toEqual(['stored']);
    expect(await appender.append([entry('surrogate-user', 'id-\udc00')])).toEqual(['stored']);
    expect(ids((await messagesOf(ns)).flatMap((m) => m.entries))).toEqual(['id-\ud800', 'id-\udc00']);
  });

  it('stores the lone entries of two users that share an id, as the API and the matcher count ids per user', async () => {
    const ns = await namespace();
    const appender = new LogAppender(publisher, ns, PARTITIONS);
    expect(await appender.append([entry(userOf(0), 'evt-1')])).toEqual(['stored']);
    expect(await appender.append([entry(userOf(1), 'evt-1')])).toEqual(['stored']);
    expect((await messagesOf(ns)).flatMap((m) => m.entries.map((e) => e.user_id))).toEqual([
      userOf(0),
      userOf(1),
    ]);
  });
});
