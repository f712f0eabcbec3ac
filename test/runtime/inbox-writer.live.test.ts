import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureDeliveriesStream } from '../../pipeline/adapters/nats/deliveries-stream.ts';
import { NatsInAppFeed } from '../../pipeline/adapters/nats/nats-inapp-feed.ts';
import { deliveryReader } from '../../pipeline/adapters/nats/stream-readers.ts';
import { RedisInbox } from '../../pipeline/adapters/redis/redis-inbox.ts';
import type { Channel } from '../../pipeline/core/message-schema.ts';
import type { Delivery } from '../../pipeline/ports/delivery.ts';
import type { InAppNotice, Inbox } from '../../pipeline/ports/inbox.ts';
import { InboxWriter } from '../../pipeline/runtime/inbox-writer.ts';
import { livePipeline } from './live-pipeline.ts';

let live: Awaited<ReturnType<typeof livePipeline>>;

beforeAll(async () => {
  live = await livePipeline(1);
  await ensureDeliveriesStream(live.jsm, live.ns);
});

afterAll(async () => {
  await live.jsm.streams.delete(live.ns.deliveriesStream).catch(() => false);
  await live.close();
});

const delivery = (decision_id: string, user_id: string, channel: Channel, at: number): Delivery => ({
  decision_id,
  message_id: `m_${channel}`,
  message_version: 1,
  user_id,
  channel,
  at,
  subject: channel === 'email' ? 'Hello' : null,
  body: `a ${channel}`,
});

/** Publishes to the deliveries stream as the matcher does; `msgID` unique, so a repeat is stored again. */
async function publish(deliveries: readonly Delivery[]): Promise<void> {
  const js = live.nc.jetstream();
  for (const d of deliveries)
    await js.publish(
      live.ns.deliverySubject(d.channel as Channel),
      new TextEncoder().encode(JSON.stringify(d)),
      {
        msgID: `${d.decision_id}:${Math.random()}`,
      },
    );
}

/** Steps until `count` in-app deliveries were handled (or too many steps). */
async function stepUntil(writer: InboxWriter, count: number): Promise<void> {
  let handled = 0;
  for (let step = 0; step < 30 && handled < count; step++) handled += await writer.step();
  expect(handled).toBe(count);
}

async function heardAtLeast(heard: readonly InAppNotice[], count: number): Promise<void> {
  for (let i = 0; i < 50 && heard.length < count; i++)
    await new Promise((resolve) => setTimeout(resolve, 20));
}

describe('the inbox writer', () => {
  it('puts only in-app deliveries in their users’ inboxes, tells the feed of each, and adds a repeat once', async () => {
    const { nc, jsm, ns, redis } = live;
    const feed = new NatsInAppFeed(nc, ns);
    const heard: InAppNotice[] = [];
    const stop = feed.subscribe((notice) => heard.push(notice));
    await nc.flush();

    const inbox = new RedisInbox(redis, ns);
    const writer = new InboxWriter({
      reader: deliveryReader(nc.jetstream(), jsm, ns, 'in-app', 'inbox_writer'),
      inbox,
      feed,
    });
    const banner = delivery('d1', 'alice', 'banner', 1_000);
    await publish([
      banner,
      delivery('d2', 'alice', 'email', 2_000),
      delivery('d3', 'bob', 'post', 3_000),
      delivery('d4', 'alice', 'survey', 4_000),
    ]);
    await stepUntil(writer, 3);

    const entry = (d: Delivery, seq: number) => ({
      decision_id: d.decision_id,
      message_id: d.message_id,
      channel: d.channel,
      subject: d.subject,
      body: d.body,
      at: d.at,
      seq,
      seen: false,
      dismissed: false,
    });
    const alice = [entry(delivery('d4', 'alice', 'survey', 4_000), 2), entry(banner, 1)];
    expect(await inbox.list('alice')).toEqual(alice);
    expect(await inbox.list('bob')).toEqual([entry(delivery('d3', 'bob', 'post', 3_000), 1)]);

    await heardAtLeast(heard, 3);
    expect(heard.map((n) => [n.user_id, n.entry.decision_id, n.entry.seq]).sort()).toEqual([
      ['alice', 'd1', 1],
      ['alice', 'd4', 2],
      ['bob', 'd3', 1],
    ]);

    // The same delivery read again (published twice, as a matcher redoing a batch may): one entry, told again.
    await publish([banner]);
    await stepUntil(writer, 1);
    expect(await inbox.list('alice')).toEqual(alice);
    await heardAtLeast(heard, 4);
    expect(heard.slice(3)).toEqual([{ user_id: 'alice', entry: entry(banner, 1) }]);
    stop();
  });

  it('puts a batch back when the inbox fails, and adds it when the inbox is back', async () => {
    const { nc, jsm, ns, redis } = live;
    const real = new RedisInbox(redis, ns);
    let down = true;
    const flaky: Inbox = {
      add: (userId, message) =>
        down ? Promise.reject(new Error('Redis is down')) : real.add(userId, message),
      list: (userId, options) => real.list(userId, options),
      mark: (userId, decisionId, action) => real.mark(userId, decisionId, action),
    };
    const writer = new InboxWriter({
      // Another durable consumer: it reads the stream from the start, the first test's deliveries too.
      reader: deliveryReader(nc.jetstream(), jsm, ns, 'in-app', 'inbox_writer_flaky'),
      inbox: flaky,
      feed: new NatsInAppFeed(nc, ns),
      retryMs: 10,
    });
    await publish([delivery('d5', 'carol', 'chat', 5_000)]);
    await expect(writer.step()).rejects.toThrow('Redis is down');
    down = false;
    // Every in-app delivery of the stream, the failed batch's again: d1, d4, d3, d1 repeated, d5.
    await stepUntil(writer, 5);
    expect((await real.list('carol')).map((e) => [e.decision_id, e.seq])).toEqual([['d5', 1]]);
    expect((await real.list('alice')).map((e) => e.decision_id)).toEqual(['d4', 'd1']);
  });
});
