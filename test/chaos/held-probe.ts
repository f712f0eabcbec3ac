import { setTimeout as sleep } from 'node:timers/promises';
import type { JetStreamClient, JetStreamManager } from 'nats';
import { decodeValue } from '../../pipeline/adapters/nats/packs.ts';
import type { Channel } from '../../pipeline/core/message-schema.ts';
import type { Namespace } from '../../pipeline/namespace.ts';

/** The sends the held stream holds now: −1 when it cannot be read (NATS down). */
const heldCount = (jsm: JetStreamManager, ns: Namespace): Promise<number> =>
  jsm.streams.info(ns.heldStream).then(
    (info) => info.state.messages,
    () => -1,
  );

/**
 * Resolves once the releaser has acked a held send (the work-queue stream then holds fewer than
 * the most it held since the call): its release has begun, and the rest of its batch is in flight.
 * Resolves with whether it saw one: false at once when the stream holds none (all released
 * already), else after `timeoutMs` at the latest.
 */
export async function releaseBegun(
  jsm: JetStreamManager,
  ns: Namespace,
  timeoutMs: number,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  let most = -1;
  while (Date.now() < deadline) {
    const now = await heldCount(jsm, ns);
    if (now === 0 && most <= 0) return false;
    if (now >= 0 && now < most) return true;
    most = Math.max(most, now);
    await sleep(10);
  }
  return false;
}

/**
 * What the held stream still holds, and of those how many are already on the deliveries stream:
 * released by a releaser that died before its ack, so they come again, and are released again,
 * and the deliveries stream must drop them (their `Nats-Msg-Id`). Read while no releaser runs.
 */
export async function releasedStillHeld(
  js: JetStreamClient,
  jsm: JetStreamManager,
  ns: Namespace,
  channel: Channel,
): Promise<{ readonly held: number; readonly released: number }> {
  const key = (d: { user_id: string; decision_id: string }) => `${d.user_id}\u0000${d.decision_id}`;
  const { state } = await jsm.streams.info(ns.heldStream);
  const held = new Set<string>();
  // A work queue allows no second consumer: the held sends are read one by one, by sequence.
  for (let seq = state.first_seq; seq <= state.last_seq && state.messages > 0; seq++) {
    const message = await jsm.streams.getMessage(ns.heldStream, { seq }).catch(() => undefined);
    if (message !== undefined)
      held.add(key(decodeValue(message.data) as { user_id: string; decision_id: string }));
  }
  let released = 0;
  // One subject, as `filterSubjects` of one: nats-server 2.9 has no `filter_subjects`.
  const consumer = await js.consumers.get(ns.deliveriesStream, {
    filterSubjects: ns.deliverySubject(channel),
  });
  for (;;) {
    let got = 0;
    for await (const message of await consumer.fetch({ max_messages: 1_000, expires: 1_000 })) {
      got++;
      if (held.has(key(decodeValue(message.data) as { user_id: string; decision_id: string }))) released++;
    }
    if (got === 0) break;
  }
  await consumer.delete().catch(() => undefined);
  return { held: held.size, released };
}
