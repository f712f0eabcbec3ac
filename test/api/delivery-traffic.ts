import { migrateAudit } from '../../pipeline/adapters/clickhouse/audit-schema.ts';
import { ClickHouseAuditSink } from '../../pipeline/adapters/clickhouse/clickhouse-audit-sink.ts';
import { ClickHouseInAppOutcomes } from '../../pipeline/adapters/clickhouse/clickhouse-inapp-outcomes.ts';
import { compileCaps } from '../../pipeline/core/caps.ts';
import type { Decision } from '../../pipeline/core/decision.ts';
import type { LogEntry } from '../../pipeline/core/log-entry.ts';
import { MessageListSchema } from '../../pipeline/core/message-schema.ts';
import { buildRuleIndex } from '../../pipeline/core/rule-index.ts';
import type { DeliveryOutcome, InAppOutcome } from '../../pipeline/ports/delivery.ts';
import { Replayer } from '../../pipeline/replay/replayer.ts';
import type { apiFixture } from './api-fixture.ts';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const USERS = 12;

/** Why the weekly mail failed, weighted so that six reasons have counts that rank them. */
const MAIL_FAILURES = [
  '550 5.1.1 mailbox unavailable',
  '550 5.1.1 mailbox unavailable',
  '550 5.1.1 mailbox unavailable',
  '552 5.2.2 mailbox full',
  '552 5.2.2 mailbox full',
  'no email address',
  '554 5.7.1 rejected as spam',
  '451 4.3.0 try again later',
  '421 4.7.0 too many connections',
];
const PUSH_FAILURES = ['the push service answered 410', 'the push service answered 404'];

const subscription = (user: string) => ({
  endpoint: `https://push.example/${user}`,
  keys: { p256dh: `p256dh-${user}`, auth: `auth-${user}` },
});

/**
 * A day of sends to people who can and cannot be reached, for the delivery funnel: a weekly mail,
 * a push and an in-app banner, all on `upload`. Of 12 users (r0–r11, ids of their own), r9–r11
 * have no email address and only r0–r4 a push subscription (r5 had one, and lost it), so the
 * others' sends are `unreachable`; r0 opted out of email, r1 of the weekly mail, r2 of push
 * (`unsubscribed`). What senders reported of the mails and pushes (delivered, or failed for one of
 * several reasons), what people did with the banners, the mails' opens and the pushes shown and
 * clicked are recorded as the senders, pages and tracking links would; the sends of the day's last two hours have their outcomes reported after the day. One
 * batch of outcomes is written twice (a sender that crashed before its ack). Only decisions and
 * outcomes are written, no log. Returns the decisions and, once each, the outcomes.
 */
export async function recordDeliveryTraffic(api: Awaited<ReturnType<typeof apiFixture>>, day: number) {
  await migrateAudit(api.clickhouse, api.ns.database);
  const messages = MessageListSchema.parse([
    {
      id: 'weekly-tip',
      channel: 'email',
      state: 'live',
      trigger: { event: 'upload' },
      template: { subject: 'A tip', body: 'share it' },
    },
    {
      id: 'upload-push',
      channel: 'push',
      state: 'live',
      trigger: { event: 'upload' },
      template: { body: 'hi' },
    },
    {
      id: 'upload-banner',
      channel: 'banner',
      state: 'live',
      trigger: { event: 'upload' },
      template: { body: 'shared?' },
    },
  ]);
  const log = traffic(day);
  const replayer = new Replayer(buildRuleIndex(messages), compileCaps([]));
  const decisions = log.flatMap((entry, i) =>
    // A partition of its own (7), so no (partition, sequence) of other recorded traffic is reused.
    replayer.apply(entry).map((decision) => ({ decision, partition: 7, seq: i + 1 })),
  );
  await new ClickHouseAuditSink(api.clickhouse, api.ns.database).insertDecisions(decisions);
  const sent = (channel: string) =>
    decisions.map((d) => d.decision).filter((d) => d.outcome === 'sent' && d.channel === channel);
  const delivered = [
    // Every third mail fails, for the next of its reasons in turn; every fourth push likewise.
    ...sent('email').map((send, i) =>
      outcomeOf(send, i, i % 3 === 0 ? MAIL_FAILURES[(i / 3) % MAIL_FAILURES.length] : undefined, day),
    ),
    ...sent('push').map((send, i) =>
      outcomeOf(send, i, i % 4 === 0 ? PUSH_FAILURES[(i / 4) % PUSH_FAILURES.length] : undefined, day),
    ),
  ];
  const audit = new ClickHouseAuditSink(api.clickhouse, api.ns.database);
  await audit.insertOutcomes(delivered);
  await audit.insertOutcomes(delivered.slice(0, 10));
  const inApp = sent('banner').flatMap((send, i): InAppOutcome[] => {
    if (i % 3 === 2) return [];
    const done: InAppOutcome['outcome'][] = ['seen'];
    if (i % 4 === 0) done.push('clicked');
    else if (i % 5 === 1) done.push('dismissed');
    const { decision_id, message_id, user_id, channel } = send;
    return done.map((outcome, k) => {
      const latency_ms = MINUTE + k * 10_000;
      return { decision_id, message_id, user_id, channel, outcome, latency_ms, at: send.at + latency_ms };
    });
  });
  // What the tracking links report (README "Deliveries"): every other delivered mail opened (its
  // pixel loaded), every delivered push shown and every third clicked.
  const tracked = delivered
    .filter((o) => o.outcome === 'delivered')
    .flatMap((o, i): InAppOutcome[] => {
      const send = decisions.find((d) => d.decision.decision_id === o.decision_id)?.decision;
      if (send === undefined) return [];
      const done: InAppOutcome['outcome'][] =
        send.channel === 'email'
          ? i % 2 === 0
            ? ['seen']
            : []
          : i % 3 === 0
            ? ['seen', 'clicked']
            : ['seen'];
      const { decision_id, message_id, user_id, channel } = send;
      return done.map((outcome, k) => {
        const latency_ms = o.latency_ms + 5 * MINUTE + k * 10_000;
        return { decision_id, message_id, user_id, channel, outcome, latency_ms, at: send.at + latency_ms };
      });
    });
  const outcomes = new ClickHouseInAppOutcomes(api.clickhouse, api.ns.database);
  await outcomes.record([...inApp, ...tracked]);
  // A mail opened again, a notification's report repeated: counted once.
  await outcomes.record(tracked.slice(0, 5));
  return { messages, decisions: decisions.map((d) => d.decision), delivered, inApp: [...inApp, ...tracked] };
}

/** Addresses, opt-outs and push subscriptions first, then 120 uploads over the day. */
function traffic(day: number): LogEntry[] {
  const user = (i: number) => `r${i}`;
  const at = (minute: number) => day + minute * MINUTE;
  const entries: LogEntry[] = [];
  for (let i = 0; i < USERS; i++) {
    const attributes: Record<string, string> = i < 9 ? { email: `${user(i)}@example.com` } : { plan: 'free' };
    entries.push({ type: 'identify', id: `d-i${i}`, user_id: user(i), received_at: at(0), attributes });
    if (i <= 5)
      entries.push({
        type: 'push_subscription',
        id: `d-p${i}`,
        user_id: user(i),
        received_at: at(1),
        action: 'add',
        subscription: subscription(user(i)),
      });
  }
  entries.push(
    {
      type: 'push_subscription',
      id: 'd-gone',
      user_id: user(5),
      received_at: at(2),
      action: 'remove',
      subscription: subscription(user(5)),
    },
    {
      type: 'preferences',
      id: 'd-o0',
      user_id: user(0),
      received_at: at(2),
      channels: { email: false },
      messages: {},
    },
    {
      type: 'preferences',
      id: 'd-o1',
      user_id: user(1),
      received_at: at(2),
      channels: {},
      messages: { 'weekly-tip': false },
    },
    {
      type: 'preferences',
      id: 'd-o2',
      user_id: user(2),
      received_at: at(2),
      channels: { push: false },
      messages: {},
    },
  );
  for (let i = 0; i < 120; i++)
    entries.push({
      type: 'track',
      id: `d-e${i}`,
      name: 'upload',
      user_id: user(i % USERS),
      received_at: at(10 + i * 12),
    });
  return entries;
}

/**
 * A sender's outcome for the `i`-th send of a channel: failed for `reason` when one is given, else
 * delivered; a second or so after the send, or two hours for the sends of the day's last two hours
 * (reported after the day).
 */
function outcomeOf(send: Decision, i: number, reason: string | undefined, day: number): DeliveryOutcome {
  const late = send.at >= day + DAY - 2 * HOUR;
  const latency_ms = late ? 2 * HOUR : 800 + (i % 7) * 100;
  return {
    decision_id: send.decision_id,
    channel: send.channel,
    outcome: reason === undefined ? 'delivered' : 'failed',
    attempts: reason === undefined ? 1 : 1 + (i % 5),
    status: reason === undefined ? 250 : 550,
    reason: reason ?? '',
    latency_ms,
    at: send.at + latency_ms,
  };
}
