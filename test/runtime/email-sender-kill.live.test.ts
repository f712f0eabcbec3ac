import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { openSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { createClient } from '@clickhouse/client';
import type { Redis } from 'ioredis';
import { simpleParser } from 'mailparser';
import { AckPolicy, DeliverPolicy } from 'nats';
import type { Subscription } from 'nats';
import { SMTPServer } from 'smtp-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureDeliveriesStream } from '../../pipeline/adapters/nats/deliveries-stream.ts';
import { messageId } from '../../pipeline/adapters/smtp/smtp-mailer.ts';
import { compileCaps } from '../../pipeline/core/caps.ts';
import type { LogEntry } from '../../pipeline/core/log-entry.ts';
import { buildRuleIndex } from '../../pipeline/core/rule-index.ts';
import type { Delivery } from '../../pipeline/ports/delivery.ts';
import { clickhouseClient } from '../clickhouse-cli.ts';
import { config, livePipeline } from './live-pipeline.ts';

/**
 * The email sender (`nudge send email`, a child process) SIGKILLed three times while it works
 * through a backlog, each time at a chosen place in one mail's life, and started again:
 *
 * 1. `at 250`: the server has the whole mail and takes it, and the sender dies just before the 250
 *    reaches it, so it cannot mark the mail: inside the duplicate window, so that mail comes again
 *    (with the same Message-ID), as SMTP allows (RFC 1047);
 * 2. `after mark`: right after the sender marked the accepted mail in Redis, before its outcome and
 *    ack: the mark keeps the mail from being sent again;
 * 3. `at RCPT`: while the server is at RCPT TO, before it has the mail: the server drops the
 *    transaction its client left, and the mail comes once.
 *
 * The deliveries arrive in three waves, one a sender, so that what each killed sender held comes
 * back (after the consumer's 15 s ack wait) at about the same time, and the test stays short.
 * Each delivery must end with exactly one outcome; mails received twice are counted and must be at
 * most one a kill (one delivery in flight at a time). For every mail, the test measures the
 * window, from the server's 250 to the mark in Redis (MONITOR's time), and the time to the ack
 * reaching JetStream (the consumer's ack advisories), which is the window without the mark.
 */

const root = new URL('../..', import.meta.url).pathname;
const PARTITIONS = 4;
const WAVE = 100;
const DELIVERIES = 3 * WAVE;
/** Every 25th user has no address: a `failed` outcome, without a word to the server. */
const hasAddress = (n: number) => n % 25 !== 0;
const DURABLE = 'sender_email';

type Edge = 'at 250' | 'after mark' | 'at RCPT';

const clickhouse = createClient({ url: config.clickhouseUrl });
let live: Awaited<ReturnType<typeof livePipeline>>;
let monitor: Awaited<ReturnType<Redis['monitor']>> | undefined;
let advisories: Subscription | undefined;

/** What the SMTP server saw: when it answered 250, per decision id, and each mail's Message-ID. */
const accepted = new Map<string, { at: number[]; messageIds: string[] }>();
/** When Redis took each mark, per decision id. */
const marked = new Map<string, number[]>();
/** When JetStream took the ack of each first delivery, per stream sequence. */
const acks = new Map<number, number[]>();
const seqOf = new Map<string, number>();
/** Each kill, with how many times the server had accepted the mail it fell on by then. */
const kills: { edge: Edge; decision_id: string; accepted_before: number }[] = [];
const children: ChildProcess[] = [];
/** The next kill: at which edge, once this many distinct mails were accepted. */
let pendingKill: { edge: Edge; afterMails: number; done: () => void } | undefined;

const decisionOf = (n: number) => `kill-test:d${String(n)}`;
const addressOf = (n: number) => `u${String(n)}@example.com`;
const numberOfAddress = (address: string) => Number(/^u(\d+)@/.exec(address)?.[1] ?? -1);
/** Wall-clock ms with the fraction: Redis and JetStream stamp their events from the same clock. */
const nowMs = () => performance.timeOrigin + performance.now();
const push = <K, V>(map: Map<K, V[]>, key: K, value: V) => map.set(key, [...(map.get(key) ?? []), value]);

function killAt(edge: Edge, decisionId: string): void {
  if (pendingKill?.edge !== edge || accepted.size < pendingKill.afterMails) return;
  const { done } = pendingKill;
  pendingKill = undefined;
  children.at(-1)?.kill('SIGKILL');
  kills.push({ edge, decision_id: decisionId, accepted_before: accepted.get(decisionId)?.at.length ?? 0 });
  done();
}

const server = new SMTPServer({
  authOptional: true,
  disabledCommands: ['STARTTLS', 'AUTH'],
  logger: false,
  disableReverseLookup: true,
  onRcptTo(address, _session, callback) {
    killAt('at RCPT', decisionOf(numberOfAddress(address.address)));
    callback();
  },
  onData(stream, _session, callback) {
    simpleParser(stream).then(
      (mail) => {
        const header = mail.headers.get('x-nudge-decision-id');
        const decisionId = typeof header === 'string' ? header : '';
        // From here the mail is the server's, and the sender learns it from the 250.
        const seen = accepted.get(decisionId) ?? { at: [], messageIds: [] };
        seen.at.push(nowMs());
        seen.messageIds.push(mail.messageId ?? '');
        accepted.set(decisionId, seen);
        killAt('at 250', decisionId);
        callback();
      },
      (error: unknown) => {
        callback(error as Error);
      },
    );
  },
});
// A killed sender's connections are reset under the server: expected here, not a failure.
server.on('error', () => undefined);

function startSender(): ChildProcess {
  const port = (server.server.address() as AddressInfo).port;
  const log = openSync(
    join(tmpdir(), `nudge-email-kill-${live.ns.name}-${String(children.length)}.log`),
    'w',
  );
  const smtp = `smtp://127.0.0.1:${String(port)}`;
  const child = spawn(
    process.execPath,
    [join(root, 'bin/nudge.js'), 'send', 'email', '--smtp', smtp, '--from', 'no-reply@nudge.example'],
    {
      env: { ...process.env, NUDGE_NAMESPACE: live.ns.name, NUDGE_PARTITIONS: String(PARTITIONS) },
      cwd: root,
      stdio: ['ignore', log, log],
    },
  );
  children.push(child);
  return child;
}

/** Publishes a wave of deliveries, starts a sender and kills it at `edge` once `afterMails` mails were accepted. */
async function waveUntilKilled(wave: number, edge: Edge, afterMails: number): Promise<void> {
  await publishWave(wave);
  const killed = new Promise<void>((done) => {
    pendingKill = { edge, afterMails, done };
  });
  const child = startSender();
  await killed;
  if (child.exitCode === null && child.signalCode === null) await once(child, 'exit');
}

async function publishWave(wave: number): Promise<void> {
  const js = live.nc.jetstream();
  for (let n = wave * WAVE; n < (wave + 1) * WAVE; n++) {
    const data = new TextEncoder().encode(JSON.stringify(delivery(n)));
    const published = await js.publish(live.ns.deliverySubject('email'), data, { msgID: decisionOf(n) });
    seqOf.set(decisionOf(n), published.seq);
  }
}

/** Until every delivery has an outcome and the consumer has nothing pending or unacked. */
async function allHandled(deadlineMs: number): Promise<void> {
  const deadline = Date.now() + deadlineMs;
  while (Date.now() < deadline) {
    const info = await live.jsm.consumers.info(live.ns.deliveriesStream, DURABLE);
    const [row] = await clickhouseClient<{ n: string }>(
      `SELECT uniqExact(decision_id) AS n FROM \`${live.ns.database}\`.delivery_outcomes`,
    ).catch(() => [{ n: '0' }]);
    if (info.num_pending === 0 && info.num_ack_pending === 0 && Number(row?.n) === DELIVERIES) return;
    await sleep(250);
  }
  throw new Error(`the deliveries were not all handled within ${String(deadlineMs)} ms`);
}

const identify = (n: number): LogEntry => ({
  type: 'identify',
  id: `i-${String(n)}`,
  user_id: `u${String(n)}`,
  received_at: 500,
  attributes: hasAddress(n) ? { email: addressOf(n) } : { plan: 'free' },
});

const delivery = (n: number): Delivery => ({
  decision_id: decisionOf(n),
  message_id: 'welcome',
  message_version: 1,
  user_id: `u${String(n)}`,
  channel: 'email',
  at: 1_000,
  subject: 'Welcome',
  body: `Hello user ${String(n)}`,
});

const numbers = Array.from({ length: DELIVERIES }, (_, n) => n);

/** Listens to the marks going into Redis and to the acks JetStream takes, with their times. */
async function watch(): Promise<void> {
  // The sender's durable consumer, made before the sender makes it, with every ack sampled: JetStream
  // then publishes an advisory stamped with the time it took each ack. (The sender only updates a
  // consumer's ack wait and pending limit, and an update keeps the rest of the config.)
  await live.jsm.consumers.add(live.ns.deliveriesStream, {
    durable_name: DURABLE,
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    filter_subject: live.ns.deliverySubject('email'),
    sample_freq: '100%',
  });
  advisories = live.nc.subscribe(`$JS.EVENT.METRIC.CONSUMER.ACK.${live.ns.deliveriesStream}.${DURABLE}`, {
    callback: (_error, message) => {
      const ack = message.json<{ stream_seq: number; timestamp: string; deliveries: number }>();
      // A first delivery's ack only: one that came again after a kill measures the ack wait.
      if (ack.deliveries === 1) push(acks, ack.stream_seq, advisoryTime(ack.timestamp));
    },
  });
  await live.nc.flush();
  // MONITOR: every command Redis runs, stamped with the time it ran it (seconds, microseconds).
  const prefix = `${live.ns.name}:sent:email:`;
  monitor = await live.redis.monitor();
  monitor.on('monitor', (time: string, args: string[]) => {
    const [command, key = ''] = args;
    if (command?.toLowerCase() !== 'set' || !key.startsWith(prefix)) return;
    const decisionId = key.slice(prefix.length);
    push(marked, decisionId, Number(time) * 1_000);
    killAt('after mark', decisionId);
  });
}

beforeAll(async () => {
  live = await livePipeline(PARTITIONS);
  await ensureDeliveriesStream(live.jsm, live.ns);
  await live.publish(numbers.map(identify));
  await live.decideAll({ index: buildRuleIndex([]), caps: compileCaps([]) }, 100);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  await watch();

  const started = Date.now();
  const phases: string[] = [];
  const phase = (what: string) => phases.push(`${what} ${((Date.now() - started) / 1_000).toFixed(1)} s`);
  await waveUntilKilled(0, 'at 250', WAVE / 2);
  phase('1st kill');
  await waveUntilKilled(1, 'after mark', WAVE);
  phase('2nd kill');
  await waveUntilKilled(2, 'at RCPT', WAVE + WAVE / 2);
  phase('3rd kill');
  const last = startSender();
  await allHandled(60_000);
  phase('all handled');
  last.kill('SIGTERM');
  await once(last, 'exit');
  printFigures(phases);
}, 120_000);

afterAll(async () => {
  for (const child of children)
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  advisories?.unsubscribe();
  monitor?.disconnect();
  await new Promise<void>((resolve) => {
    server.close(() => {
      resolve();
    });
  });
  await live.jsm.streams.delete(live.ns.deliveriesStream).catch(() => false);
  await clickhouse.command({ query: `DROP DATABASE IF EXISTS \`${live.ns.database}\`` });
  await clickhouse.close();
  await live.close();
});

/** `2026-12-01T10:00:00.123456789Z` as ms since the epoch, with the fraction. */
function advisoryTime(timestamp: string): number {
  const [whole = '', fraction = '0'] = timestamp.replace(/Z$/, '').split('.');
  return Date.parse(`${whole}Z`) + Number(`0.${fraction}`) * 1_000;
}

/** Per mail accepted once and then marked or acked once: ms from the server's 250 to that. */
function sinceAccepted(then: (decisionId: string) => readonly number[] | undefined): number[] {
  const spans: number[] = [];
  for (const [decisionId, seen] of accepted) {
    const times = then(decisionId) ?? [];
    if (seen.at.length === 1 && times.length === 1) spans.push((times[0] ?? 0) - (seen.at[0] ?? 0));
  }
  return spans.sort((a, b) => a - b);
}

function summary(spans: readonly number[]): string {
  const at = (q: number) => (spans[Math.min(spans.length - 1, Math.floor(q * spans.length))] ?? 0).toFixed(2);
  const mean = spans.reduce((sum, span) => sum + span, 0) / Math.max(1, spans.length);
  return `over ${String(spans.length)} mails: mean ${mean.toFixed(2)} ms, p50 ${at(0.5)}, p90 ${at(0.9)}, p99 ${at(0.99)}, max ${at(1)} ms`;
}

function printFigures(phases: readonly string[]): void {
  const toMark = sinceAccepted((id) => marked.get(id));
  const toAck = sinceAccepted((id) => acks.get(seqOf.get(id) ?? -1));
  // One delivery's cycle while the sender works through a backlog: the time between two 250s.
  const times = [...accepted.values()].flatMap((seen) => seen.at).sort((a, b) => a - b);
  const gaps = times
    .slice(1)
    .map((t, i) => t - (times[i] ?? t))
    .filter((gap) => gap < 1_000);
  const cycle = gaps.reduce((sum, gap) => sum + gap, 0) / Math.max(1, gaps.length);
  const share = (spans: readonly number[]) =>
    `${((100 * spans.reduce((sum, span) => sum + span, 0)) / Math.max(1, spans.length) / cycle).toFixed(1)}%`;
  const twice = [...accepted].filter(([, seen]) => seen.at.length > 1).map(([id]) => id);
  console.log(
    [
      `email sender kill: ${String(DELIVERIES)} deliveries, ${String(kills.length)} SIGKILLs (${kills.map((k) => `${k.edge}: ${k.decision_id}`).join('; ')})`,
      `  mails received twice: ${String(twice.length)} (${twice.join(', ') || 'none'})`,
      `  since the first sender started: ${phases.join(', ')}`,
      `  the window, 250 -> mark in Redis, ${summary(toMark)}`,
      `  without the mark, 250 -> ack at JetStream, ${summary(toAck)}`,
      `  one delivery's cycle (mean time between 250s under the backlog): ${cycle.toFixed(1)} ms; a kill at a random moment of a busy sender lands in the window ${share(toMark)} of the time (${share(toAck)} without the mark)`,
    ].join('\n'),
  );
}

describe('the email sender SIGKILLed under load', () => {
  it('was killed three times, at the edges of its window, and started again', () => {
    expect(kills.map((k) => k.edge)).toEqual(['at 250', 'after mark', 'at RCPT']);
  });

  it('records exactly one outcome a delivery, none missing: delivered with an address, failed without', async () => {
    const rows = await clickhouseClient<{ decision_id: string; outcome: string; rows: string }>(
      `SELECT decision_id, any(outcome) AS outcome, count() AS rows FROM \`${live.ns.database}\`.delivery_outcomes FINAL GROUP BY decision_id`,
    );
    expect(rows.filter((row) => Number(row.rows) !== 1)).toEqual([]);
    expect(new Map(rows.map((row) => [row.decision_id, row.outcome]))).toEqual(
      new Map(numbers.map((n) => [decisionOf(n), hasAddress(n) ? 'delivered' : 'failed'])),
    );
  });

  it('mails every address at least once, and twice only a mail a kill fell on, with the same Message-ID', () => {
    expect(numbers.filter((n) => hasAddress(n) && !accepted.has(decisionOf(n)))).toEqual([]);
    expect(numbers.filter((n) => !hasAddress(n) && accepted.has(decisionOf(n)))).toEqual([]);
    const twice = [...accepted].filter(([, seen]) => seen.at.length > 1).map(([id]) => id);
    expect(twice.length).toBeLessThanOrEqual(kills.length);
    expect(twice.filter((id) => !kills.some((k) => k.decision_id === id))).toEqual([]);
    for (const [id, seen] of accepted)
      expect(new Set(seen.messageIds)).toEqual(new Set([messageId(id, 'nudge.example')]));
  });

  it('mails again, once, the mail killed at its 250; never one killed after its mark, or before the server had it', () => {
    const after = (id: string) => accepted.get(id)?.at.length ?? 0;
    const more = kills.map((k) => ({ edge: k.edge, more: after(k.decision_id) - k.accepted_before }));
    expect(more.filter((k) => k.edge === 'after mark').map((k) => k.more)).toEqual([0]);
    expect(more.filter((k) => k.edge === 'at RCPT').map((k) => k.more)).toEqual([1]);
    expect(more.filter((k) => k.edge === 'at 250').map((k) => k.more)).toEqual([1]);
  });
});
