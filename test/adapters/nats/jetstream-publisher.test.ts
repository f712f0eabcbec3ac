import { randomUUID } from 'node:crypto';
import type { JetStreamManager, NatsConnection } from 'nats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectNats } from '../../../pipeline/adapters/nats/connect-nats.ts';
import { JetStreamPublisher, PublishFailed } from '../../../pipeline/adapters/nats/jetstream-publisher.ts';
import { ensureLogStream } from '../../../pipeline/adapters/nats/log-stream.ts';
import { loadConfig } from '../../../pipeline/config/load-config.ts';
import { Namespace } from '../../../pipeline/namespace.ts';

const config = loadConfig(process.env);
const ns = new Namespace(`t_${randomUUID().replaceAll('-', '').slice(0, 20)}`);
/** A stream that refuses every message over 256 bytes, headers included. */
const tinyStream = `${ns.name.toUpperCase()}_TINY`;
const tinySubject = `${ns.name}.tiny`;
/** Received by a core subscriber that never replies: a publish to it is never acknowledged. */
const silentSubject = `${ns.name}.silent`;
const subject = ns.logSubject(0);
const encoder = new TextEncoder();
let nc: NatsConnection;
let jsm: JetStreamManager;
let publisher: JetStreamPublisher;

/** How long a promise took to settle, and how: never longer than `limitMs`. */
async function settle(promise: Promise<unknown>, limitMs = 10_000) {
  const started = performance.now();
  let timer: NodeJS.Timeout | undefined;
  const outcome = await Promise.race([
    promise.then(
      (value: unknown) => ({ state: 'resolved' as const, value }),
      (error: unknown) => ({ state: 'rejected' as const, error }),
    ),
    new Promise<{ state: 'pending' }>((resolve) => {
      timer = setTimeout(() => {
        resolve({ state: 'pending' });
      }, limitMs);
    }),
  ]);
  clearTimeout(timer);
  return { ...outcome, ms: performance.now() - started };
}

beforeAll(async () => {
  nc = await connectNats(config.natsUrl, 'jetstream publisher test');
  jsm = await nc.jetstreamManager();
  await ensureLogStream(jsm, ns, 1);
  await jsm.streams.add({ name: tinyStream, subjects: [tinySubject], max_msg_size: 256 });
  nc.subscribe(silentSubject, { callback: () => undefined });
  await nc.flush();
  publisher = new JetStreamPublisher(nc, 60_000);
});

afterAll(async () => {
  publisher.close();
  await jsm.streams.delete(ns.logStream).catch(() => false);
  await jsm.streams.delete(tinyStream).catch(() => false);
  await nc.drain();
});

describe('JetStreamPublisher on a real JetStream', () => {
  it('resolves once the stream stored the message, with its sequence, increasing publish after publish', async () => {
    const first = await publisher.publish(subject, encoder.encode('one'), `one-${randomUUID()}`);
    const second = await publisher.publish(subject, encoder.encode('two'), `two-${randomUUID()}`);
    expect(first.duplicate).toBe(false);
    expect(second).toEqual({ seq: first.seq + 1, duplicate: false });
    const stored = await jsm.streams.getMessage(ns.logStream, { seq: second.seq });
    expect(stored.subject).toBe(subject);
    expect(new TextDecoder().decode(stored.data)).toBe('two');
    expect(stored.header.get('Nats-Msg-Id')).toMatch(/^two-/);
  });

  it('stores concurrent publishes in the order they were made, each with its own sequence', async () => {
    const acks = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        publisher.publish(subject, encoder.encode(`c${i}`), `c${i}-${randomUUID()}`),
      ),
    );
    const seqs = acks.map((ack) => ack.seq);
    expect(seqs).toEqual(seqs.map((_, i) => (seqs[0] ?? 0) + i));
    expect(acks.every((ack) => !ack.duplicate)).toBe(true);
    const last = await jsm.streams.getMessage(ns.logStream, { seq: seqs.at(-1) ?? 0 });
    expect(new TextDecoder().decode(last.data)).toBe('c49');
  });

  it('answers duplicate, with the first sequence, for the same Nats-Msg-Id within the window, storing nothing', async () => {
    const msgID = `again-${randomUUID()}`;
    const first = await publisher.publish(subject, encoder.encode('once'), msgID);
    const before = (await jsm.streams.info(ns.logStream)).state.messages;
    const again = await publisher.publish(subject, encoder.encode('twice'), msgID);
    expect(again).toEqual({ seq: first.seq, duplicate: true });
    expect((await jsm.streams.info(ns.logStream)).state.messages).toBe(before);
  });

  it('rejects with PublishFailed at once, not after its timeout, when no stream takes the subject', async () => {
    const result = await settle(
      publisher.publish(`${ns.name}.nobody.home`, encoder.encode('x'), randomUUID()),
      5_000,
    );
    expect(result.state).toBe('rejected');
    if (result.state === 'rejected') {
      expect(result.error).toBeInstanceOf(PublishFailed);
      expect((result.error as Error).message).toMatch(/503/);
    }
  });

  it('rejects with PublishFailed when the stream refuses the message, and stores it not', async () => {
    await expect(
      publisher.publish(tinySubject, encoder.encode('x'.repeat(1_024)), randomUUID()),
    ).rejects.toThrow(PublishFailed);
    expect((await jsm.streams.info(tinyStream)).state.messages).toBe(0);
    await expect(publisher.publish(tinySubject, encoder.encode('small'), randomUUID())).resolves.toEqual({
      seq: 1,
      duplicate: false,
    });
  });

  it('rejects with PublishFailed after about timeoutMs when nothing acknowledges the message', async () => {
    const impatient = new JetStreamPublisher(nc, 300);
    try {
      const result = await settle(impatient.publish(silentSubject, encoder.encode('x'), randomUUID()));
      expect(result.state).toBe('rejected');
      if (result.state === 'rejected') expect(result.error).toBeInstanceOf(PublishFailed);
      expect(result.ms).toBeGreaterThanOrEqual(290);
      expect(result.ms).toBeLessThan(5_000);
      await expect(impatient.publish(subject, encoder.encode('after'), randomUUID())).resolves.toMatchObject({
        duplicate: false,
      });
    } finally {
      impatient.close();
    }
  });

  it('rejects what is waiting when its connection closes, and every publish after', async () => {
    const own = await connectNats(config.natsUrl, 'jetstream publisher test, closed');
    const closing = new JetStreamPublisher(own, 60_000);
    const waiting = settle(closing.publish(silentSubject, encoder.encode('x'), randomUUID()));
    await own.flush();
    await own.close();
    const result = await waiting;
    expect(result.state).toBe('rejected');
    if (result.state === 'rejected') expect(result.error).toBeInstanceOf(PublishFailed);
    expect(result.ms).toBeLessThan(5_000);
    await expect(closing.publish(subject, encoder.encode('late'), randomUUID())).rejects.toThrow(
      PublishFailed,
    );
  });

  it('rejects what is waiting on close(), and every publish after it', async () => {
    const closed = new JetStreamPublisher(nc, 300);
    const waiting = closed.publish(silentSubject, encoder.encode('x'), randomUUID());
    closed.close();
    await expect(waiting).rejects.toThrow(PublishFailed);
    const late = await settle(closed.publish(silentSubject, encoder.encode('late'), randomUUID()), 3_000);
    expect(late.state).toBe('rejected');
  });
});
