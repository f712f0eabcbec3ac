import { migrateAudit } from '../../pipeline/adapters/clickhouse/audit-schema.ts';
import { ClickHouseAuditSink } from '../../pipeline/adapters/clickhouse/clickhouse-audit-sink.ts';
import { FactsCompactor } from '../../pipeline/adapters/clickhouse/facts-compactor.ts';
import { applyMessages } from '../../pipeline/adapters/nats/catalog-stream.ts';
import { compileCaps } from '../../pipeline/core/caps.ts';
import type { LogEntry } from '../../pipeline/core/log-entry.ts';
import { MessageListSchema } from '../../pipeline/core/message-schema.ts';
import { buildRuleIndex } from '../../pipeline/core/rule-index.ts';
import { Replayer } from '../../pipeline/replay/replayer.ts';
import type { apiFixture } from './api-fixture.ts';

export const DAY = 86_400_000;
export const HOUR = 3_600_000;
/** Three days of traffic from here. */
export const T0 = Date.UTC(2026, 9, 5);
export const END = T0 + 3 * DAY;

/** What makes a user reachable by email and SMS: attributes an `identify` carries. */
export const contactOf = (user_id: string) => ({ email: `${user_id}@example.com`, phone: '+15550100' });

/** A push subscription for the user (RFC 8291's example keys), so a push send reaches them. */
export const pushSubscriptionOf = (user_id: string, received_at: number): LogEntry => ({
  type: 'push_subscription',
  id: `push-${user_id}`,
  user_id,
  received_at,
  action: 'add',
  subscription: {
    endpoint: `https://push.example/${user_id}`,
    keys: {
      p256dh: 'BNcRdreALRFXTkOOUHK1EtK2wtaz5Ry4YfYCA_0QTpQtUbVlUls0VJXg7A8u-Ts1XbjhazAkj7I99e8QcYP7DkM',
      auth: 'tBHItJI5svbpez7KI4CCXg',
    },
  },
});

/**
 * A seeded traffic mix: 40 users over three days, three messages with limits that bite, a goal.
 * An hour before it, each user is given an email address, a phone number and a push subscription,
 * so that every channel reaches them.
 */
function traffic(): LogEntry[] {
  let seed = 7;
  const random = () => {
    seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
    return seed / 2 ** 31;
  };
  const entries: LogEntry[] = [];
  for (let u = 0; u < 40; u++) {
    const user_id = `u${u}`;
    entries.push(
      { type: 'identify', id: `c${u}`, user_id, received_at: T0 - HOUR, attributes: contactOf(user_id) },
      pushSubscriptionOf(user_id, T0 - HOUR),
    );
  }
  for (let i = 0; i < 1_500; i++) {
    const user_id = `u${Math.floor(random() * 40)}`;
    const received_at = T0 + Math.floor((i / 1_500) * 3 * DAY);
    const pick = random();
    if (pick < 0.05)
      entries.push({
        type: 'identify',
        id: `i${i}`,
        user_id,
        received_at,
        attributes: { plan: random() < 0.5 ? 'pro' : 'free' },
      });
    else if (pick < 0.15)
      entries.push({ type: 'track', id: `g${i}`, name: 'upgraded', user_id, received_at });
    else
      entries.push({
        type: 'track',
        id: `e${i}`,
        name: pick < 0.6 ? 'upload' : 'purchase',
        user_id,
        received_at,
        metadata: { size: Math.floor(random() * 10) },
      });
  }
  return entries;
}

/**
 * Records that traffic in the fixture's namespace as the pipeline would: the messages in the
 * catalog, every entry in the log's audit, every decision the core makes in the decisions audit,
 * with repeated batches (a writer's retry) and one day merged, one merged then written to again
 * and one never merged; and a delivery outcome for every send (a fifth failed, for one of two reasons).
 */
export async function recordTraffic(api: Awaited<ReturnType<typeof apiFixture>>) {
  await migrateAudit(api.clickhouse, api.ns.database);
  const messages = MessageListSchema.parse([
    {
      id: 'upload-ready',
      channel: 'push',
      state: 'live',
      trigger: { event: 'upload', where: { field: 'metadata.size', op: 'gt', value: 2 } },
      frequency: { min_interval: '2h' },
      template: { body: 'ready' },
      goal: { event: 'upgraded', within: '1d' },
    },
    {
      id: 'thanks',
      channel: 'email',
      state: 'live',
      trigger: { event: 'purchase' },
      audience: { field: 'user.plan', op: 'eq', value: 'pro' },
      frequency: { max_sends: 3 },
      template: { body: 'thanks' },
    },
    { id: 'nudge', channel: 'sms', state: 'live', trigger: { event: 'upload' }, template: { body: 'hi' } },
  ]);
  await applyMessages(api.nc.jetstream(), await api.nc.jetstreamManager(), api.ns, messages, T0);
  const log = traffic();
  const replayer = new Replayer(buildRuleIndex(messages), compileCaps([{ max: 2, per: DAY }]));
  // Each entry its own log message of partition 0; stream sequences start at 1.
  const decisions = log.flatMap((entry, i) =>
    replayer.apply(entry).map((decision) => ({ decision, partition: 0, seq: i + 1 })),
  );
  const audit = new ClickHouseAuditSink(api.clickhouse, api.ns.database);
  await audit.insertEntries(log.map((entry, i) => ({ entry, partition: 0, seq: i + 1, position: 0 })));
  const byDay = (day: number) => decisions.filter((d) => Math.floor((d.decision.at - T0) / DAY) === day);
  // Day 0 written once and merged; day 1 written, merged, then a batch of it written again (a
  // writer's retry after a crash); day 2 written in two inserts with a repeated batch, never merged.
  await audit.insertDecisions(byDay(0));
  await audit.insertDecisions(byDay(1));
  const compactor = new FactsCompactor(api.clickhouse, api.ns.database, {
    quietMs: 0,
    todayQuietMs: 0,
    everyMs: 0,
  });
  while ((await compactor.step()) > 0);
  await audit.insertDecisions(byDay(1).slice(0, 40));
  await audit.insertDecisions(byDay(2).slice(0, 100));
  await audit.insertDecisions(byDay(2));
  await api.clickhouse.insert({
    table: `${api.ns.database}.delivery_outcomes`,
    values: decisions
      .filter((d) => d.decision.outcome === 'sent')
      .map((d, i) => ({
        decision_id: d.decision.decision_id,
        channel: d.decision.channel,
        outcome: i % 5 === 0 ? 'failed' : 'delivered',
        attempts: 1 + (i % 3),
        status: i % 5 !== 0 ? 200 : i % 10 === 0 ? 500 : 0,
        reason:
          i % 5 !== 0 ? '' : i % 10 === 0 ? 'the endpoint answered 500' : 'the endpoint could not be reached',
        latency_ms: 100 + ((i * 37) % 900),
        at: d.decision.at + 1_000,
      })),
    format: 'JSONEachRow',
  });
  return { messages, log, decisions };
}
