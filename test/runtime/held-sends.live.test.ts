import { JetStreamPublisher } from '../../pipeline/adapters/nats/jetstream-publisher.ts';
import { createClient } from '@clickhouse/client';
import { connect } from 'nats';
import type { JetStreamManager, NatsConnection } from 'nats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrateAudit } from '../../pipeline/adapters/clickhouse/audit-schema.ts';
import { ClickHouseAuditSink } from '../../pipeline/adapters/clickhouse/clickhouse-audit-sink.ts';
import {
  applyMessages,
  ensureCatalogStream,
  latestMessage,
} from '../../pipeline/adapters/nats/catalog-stream.ts';
import {
  DeliveringDecisionSink,
  ensureDeliveriesStream,
  publishDelivery,
} from '../../pipeline/adapters/nats/deliveries-stream.ts';
import { ensureHeldStream, JetStreamHeldSends } from '../../pipeline/adapters/nats/held-sends.ts';
import { JetStreamDecisionSink } from '../../pipeline/adapters/nats/jetstream-decision-sink.ts';
import type { Decision } from '../../pipeline/core/decision.ts';
import { decisionId } from '../../pipeline/core/decision.ts';
import type { Message } from '../../pipeline/core/message-schema.ts';
import { MessageSchema } from '../../pipeline/core/message-schema.ts';
import type { Delivery } from '../../pipeline/ports/delivery.ts';
import type { HeldDelivery } from '../../pipeline/ports/held-sends.ts';
import { HeldReleaser } from '../../pipeline/runtime/held-releaser.ts';
import { config, livePipeline } from './live-pipeline.ts';

/** How far ahead the sends here are held: long enough to look at the streams before, short for CI. */
const HOLD_MS = 1_200;
/** The most steps a test takes waiting for its send (about a second each): only a failure gets there. */
const MAX_STEPS = 15;

const clickhouse = createClient({ url: config.clickhouseUrl });
let live: Awaited<ReturnType<typeof livePipeline>>;

beforeAll(async () => {
  live = await livePipeline(1);
  await ensureDeliveriesStream(live.jsm, live.ns);
  await ensureHeldStream(live.jsm, live.ns);
  await ensureCatalogStream(live.jsm, live.ns);
  await migrateAudit(clickhouse, live.ns.database);
});

afterAll(async () => {
  for (const stream of [live.ns.deliveriesStream, live.ns.heldStream, live.ns.catalogStream])
    await live.jsm.streams.delete(stream).catch(() => false);
  await clickhouse.command({ query: `DROP DATABASE IF EXISTS \`${live.ns.database}\`` });
  await clickhouse.close();
  await live.close();
});

/** A live webhook message of its own, applied to the catalog now (so `live_since` is now). */
async function liveMessage(id: string): Promise<Message> {
  const message = MessageSchema.parse({
    id,
    channel: 'webhook',
    state: 'live',
    trigger: { event: 'upload_completed' },
    schedule: { days: ['mon'], outside: 'defer' },
    template: { body: 'Your upload is ready' },
  });
  await applyMessages(live.nc.jetstream(), live.jsm, live.ns, [message], Date.now());
  const applied = await latestMessage(live.jsm, live.ns, id);
  if (applied === undefined) throw new Error(`${id} was not stored`);
  return applied;
}

/** A send of `message` decided now and held until `deliverAt`, published by the matcher's sink (the decisions stream and the held stream). */
async function heldSendOf(message: Message, deliverAt: number): Promise<Decision> {
  const at = Date.now();
  const entry = `e-${message.id}`;
  const decision: Decision = {
    decision_id: decisionId(message.id, entry),
    entry_id: entry,
    message_id: message.id,
    message_version: message.version,
    user_id: 'u1',
    channel: 'webhook',
    at,
    deliver_at: deliverAt,
    outcome: 'sent',
    reason: null,
    content: { subject: null, body: 'Your upload is ready' },
    explanation: null,
  };
  await publishSend(decision);
  return decision;
}

/** What the matcher does with a batch holding `decision`: its decisions sink, which forwards the send. */
async function publishSend(decision: Decision): Promise<void> {
  const publisher = new JetStreamPublisher(live.nc);
  const sink = new DeliveringDecisionSink(new JetStreamDecisionSink(publisher, live.ns), publisher, live.ns);
  await sink.publish([{ decision, partition: 0, seq: 1 }]);
}

function releaser(nc: NatsConnection, jsm: JetStreamManager, release = publishing(nc)) {
  return new HeldReleaser({
    held: new JetStreamHeldSends(nc.jetstream(), jsm, live.ns),
    release,
    latest: (id) => latestMessage(jsm, live.ns, id),
    record: (outcomes) => new ClickHouseAuditSink(clickhouse, live.ns.database).insertOutcomes(outcomes),
    now: Date.now,
    retryMs: 100,
  });
}

const publishing = (nc: NatsConnection) => {
  const publisher = new JetStreamPublisher(nc);
  return async (delivery: HeldDelivery) => {
    await publishDelivery(publisher, live.ns, delivery);
  };
};

const messagesIn = async (stream: string) => (await live.jsm.streams.info(stream)).state.messages;

/**
 * Steps the releaser until the deliveries stream holds `decision`'s send. Each look at the stream
 * is timed after it is read: a send seen then, before its deliver_at, was released early.
 */
async function stepUntilDelivered(work: HeldReleaser, decision: Decision & { deliver_at: number }) {
  for (let step = 0; step < MAX_STEPS; step++) {
    await work.step();
    const found = await messagesIn(live.ns.deliveriesStream);
    const lookedAt = Date.now();
    if (found === 0) continue;
    expect(lookedAt).toBeGreaterThanOrEqual(decision.deliver_at);
    return;
  }
  throw new Error(`${decision.decision_id} was never released`);
}

async function onlyDelivery(): Promise<{ delivery: Delivery; storedAt: number }> {
  const info = await live.jsm.streams.info(live.ns.deliveriesStream);
  expect(info.state.messages).toBe(1);
  const stored = await live.jsm.streams.getMessage(live.ns.deliveriesStream, { seq: info.state.last_seq });
  return {
    delivery: JSON.parse(new TextDecoder().decode(stored.data)) as Delivery,
    storedAt: stored.time.getTime(),
  };
}

describe('held sends: matcher → held stream → releaser → deliveries, at deliver_at', () => {
  it('reaches the deliveries stream, with its deliver_at, not before it is due', async () => {
    const message = await liveMessage('upload-ready');
    const decision = await heldSendOf(message, Date.now() + HOLD_MS);
    const deliverAt = decision.outcome === 'sent' ? (decision.deliver_at ?? 0) : 0;
    expect(await messagesIn(live.ns.heldStream)).toBe(1);
    expect(await messagesIn(live.ns.deliveriesStream)).toBe(0);

    await stepUntilDelivered(releaser(live.nc, live.jsm), { ...decision, deliver_at: deliverAt });
    const { delivery, storedAt } = await onlyDelivery();
    expect(storedAt).toBeGreaterThanOrEqual(deliverAt);
    expect(delivery).toEqual({
      decision_id: decision.decision_id,
      message_id: 'upload-ready',
      message_version: message.version,
      user_id: 'u1',
      channel: 'webhook',
      at: decision.at,
      deliver_at: deliverAt,
      subject: null,
      body: 'Your upload is ready',
    });
    // Released and acked: the held stream keeps nothing.
    // An ack is not waited for: the server removes the send once it has it.
    await expect.poll(() => messagesIn(live.ns.heldStream)).toBe(0);
    await live.jsm.streams.purge(live.ns.deliveriesStream);
  });

  it('survives its releaser stopping, and a release repeated (a crash before its ack) is delivered once', async () => {
    const message = await liveMessage('weekly-tip');
    const decision = await heldSendOf(message, Date.now() + HOLD_MS);
    const deliverAt = decision.outcome === 'sent' ? (decision.deliver_at ?? 0) : 0;
    // A first releaser, on its own connection, takes the send and puts it back until it is due; then it is gone.
    const first = await connect({ servers: config.natsUrl });
    const firstJsm = await first.jetstreamManager();
    await releaser(first, firstJsm).step();
    await first.close();
    expect(await messagesIn(live.ns.deliveriesStream)).toBe(0);

    // Another process releases it; its first release "crashes" after publishing, before the ack.
    const second = await connect({ servers: config.natsUrl });
    const releases: string[] = [];
    const publish = publishing(second);
    const crashingOnce = async (delivery: HeldDelivery) => {
      await publish(delivery);
      releases.push(delivery.decision_id);
      if (releases.length === 1) throw new Error('the releaser died before its ack');
    };
    const work = releaser(second, await second.jetstreamManager(), crashingOnce);
    await stepUntilDelivered(work, { ...decision, deliver_at: deliverAt });
    for (let step = 0; step < MAX_STEPS && (await messagesIn(live.ns.heldStream)) > 0; step++)
      await work.step();
    expect(releases).toEqual([decision.decision_id, decision.decision_id]);
    const { delivery, storedAt } = await onlyDelivery();
    expect(delivery.decision_id).toBe(decision.decision_id);
    expect(storedAt).toBeGreaterThanOrEqual(deliverAt);
    // An ack is not waited for: the server removes the send once it has it.
    await expect.poll(() => messagesIn(live.ns.heldStream)).toBe(0);

    // The batch published again (the matcher redoing it after a crash) holds nothing twice.
    await publishSend(decision);
    // An ack is not waited for: the server removes the send once it has it.
    await expect.poll(() => messagesIn(live.ns.heldStream)).toBe(0);
    expect(await messagesIn(live.ns.deliveriesStream)).toBe(1);
    await second.close();
    await live.jsm.streams.purge(live.ns.deliveriesStream);
  });

  it('cancels a send whose message is paused before it is due: a delivery outcome, never a delivery', async () => {
    const message = await liveMessage('trial-ending');
    const decision = await heldSendOf(message, Date.now() + HOLD_MS);
    const work = releaser(live.nc, live.jsm);
    await work.step();
    await applyMessages(
      live.nc.jetstream(),
      live.jsm,
      live.ns,
      [{ ...message, state: 'paused' }],
      Date.now(),
    );
    let cancelled = 0;
    for (let step = 0; step < MAX_STEPS && cancelled === 0; step++) cancelled = await work.step();
    expect(cancelled).toBe(1);
    // An ack is not waited for: the server removes the send once it has it.
    await expect.poll(() => messagesIn(live.ns.heldStream)).toBe(0);
    expect(await messagesIn(live.ns.deliveriesStream)).toBe(0);
    const outcomes = await (
      await clickhouse.query({
        query: `SELECT decision_id, outcome, attempts, reason FROM \`${live.ns.database}\`.delivery_outcomes FINAL`,
        format: 'JSONEachRow',
      })
    ).json();
    expect(outcomes).toEqual([
      {
        decision_id: decision.decision_id,
        outcome: 'cancelled',
        attempts: 0,
        reason: 'the message was paused before the send was due',
      },
    ]);
  });
});
