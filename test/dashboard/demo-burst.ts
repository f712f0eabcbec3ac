import { ClickHouseAuditSink } from '../../pipeline/adapters/clickhouse/clickhouse-audit-sink.ts';
import { ClickHouseInAppOutcomes } from '../../pipeline/adapters/clickhouse/clickhouse-inapp-outcomes.ts';
import { compileCaps } from '../../pipeline/core/caps.ts';
import type { LogEntry } from '../../pipeline/core/log-entry.ts';
import type { Message } from '../../pipeline/core/message-schema.ts';
import { MessageSchema } from '../../pipeline/core/message-schema.ts';
import type { InAppOutcome } from '../../pipeline/ports/delivery.ts';
import { buildRuleIndex } from '../../pipeline/core/rule-index.ts';
import { Replayer } from '../../pipeline/replay/replayer.ts';
import type { apiFixture } from '../api/api-fixture.ts';
import { contactOf, pushSubscriptionOf } from '../api/recorded-traffic.ts';

const MINUTE = 60_000;

/**
 * The quick start's in-app banner on `upload`, at most one an hour a user. Exempt from the global
 * cap, so it takes no send from the other messages (their decisions are what they were without
 * it) and has sends enough for its seen, clicked and dismissed to read as a funnel.
 */
const BANNER = MessageSchema.parse({
  id: 'upload-tip',
  channel: 'banner',
  state: 'live',
  trigger: { event: 'upload' },
  frequency: { min_interval: '1h' },
  global_cap_exempt: true,
  template: { body: 'Tip: share it with your team' },
});

/**
 * What the quick-start demo leaves behind: about two hours of decisions (13:02 to 15:10 UTC of
 * `day`) for 20 users of their own, decided by the same messages and caps as the recorded traffic
 * plus an in-app banner, and nothing else that week; and what people did with the banners: three
 * in four seen, and of those about a third clicked and some of the rest dismissed, half a minute
 * to a few minutes after the send. Only decisions and outcomes are written (the replays read the
 * log of the recorded days, not this one). Returns the first and last decision times.
 */
export async function recordDemoBurst(
  api: Awaited<ReturnType<typeof apiFixture>>,
  messages: readonly Message[],
  day: number,
): Promise<{ first: number; last: number }> {
  const start = day + 13 * 60 * MINUTE + 2 * MINUTE;
  const span = 128 * MINUTE;
  const count = 640;
  let seed = 11;
  const random = () => {
    seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
    return seed / 2 ** 31;
  };
  const entries: LogEntry[] = [];
  for (let i = 0; i < count; i++) {
    const user_id = `demo${Math.floor(random() * 20)}`;
    const received_at = start + Math.floor((i / count) * span);
    if (i < 20)
      entries.push({
        type: 'identify',
        id: `demo-i${i}`,
        user_id: `demo${i}`,
        received_at,
        attributes: { plan: i % 2 === 0 ? 'pro' : 'free', ...contactOf(`demo${i}`) },
      });
    else
      entries.push({
        type: 'track',
        id: `demo-e${i}`,
        name: random() < 0.35 ? 'purchase' : 'upload',
        user_id,
        received_at,
        metadata: { size: Math.floor(random() * 10) },
      });
  }
  const replayer = new Replayer(
    buildRuleIndex([...messages, BANNER]),
    compileCaps([{ max: 2, per: 86_400_000 }]),
  );
  // Each user can be reached on every channel before their first event (decisions only are written).
  for (let i = 0; i < 20; i++) replayer.apply(pushSubscriptionOf(`demo${i}`, start - 1));
  // A partition of their own (9), so no (partition, sequence) of the recorded traffic is reused.
  const decisions = entries.flatMap((entry, i) =>
    replayer.apply(entry).map((decision) => ({ decision, partition: 9, seq: i + 1 })),
  );
  await new ClickHouseAuditSink(api.clickhouse, api.ns.database).insertDecisions(decisions);
  const banners = decisions
    .map((d) => d.decision)
    .filter((d) => d.outcome === 'sent' && d.message_id === BANNER.id);
  const outcomes = banners.flatMap((send, i): InAppOutcome[] => {
    // A banner never shown is neither clicked nor closed.
    if (i % 4 === 3) return [];
    const done: InAppOutcome['outcome'][] = ['seen'];
    if (i % 3 === 0) done.push('clicked');
    else if (i % 5 === 1) done.push('dismissed');
    return done.map((outcome, k) => {
      const latency_ms = 30_000 + ((i * 7_919) % (4 * MINUTE)) + k * 20_000;
      const { decision_id, message_id, user_id, channel } = send;
      return { decision_id, message_id, user_id, channel, outcome, latency_ms, at: send.at + latency_ms };
    });
  });
  await new ClickHouseInAppOutcomes(api.clickhouse, api.ns.database).record(outcomes);
  const times = decisions.map((d) => d.decision.at);
  return { first: Math.min(...times), last: Math.max(...times) };
}
