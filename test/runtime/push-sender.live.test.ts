import { execFile } from 'node:child_process';
import { createPublicKey, verify } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import type { Server } from 'node:https';
import { createServer, globalAgent } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { createClient } from '@clickhouse/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrateAudit } from '../../pipeline/adapters/clickhouse/audit-schema.ts';
import { pushResult } from '../../pipeline/adapters/push/web-push-sender.ts';
import { ensureDeliveriesStream } from '../../pipeline/adapters/nats/deliveries-stream.ts';
import { JetStreamKeyStore } from '../../pipeline/adapters/nats/jetstream-key-store.ts';
import type { LogEntry, PushSubscription } from '../../pipeline/core/log-entry.ts';
import { compileCaps } from '../../pipeline/core/caps.ts';
import type { Decision } from '../../pipeline/core/decision.ts';
import { MessageListSchema } from '../../pipeline/core/message-schema.ts';
import { buildRuleIndex } from '../../pipeline/core/rule-index.ts';
import type { DecisionRow } from '../../pipeline/ports/decision-row.ts';
import { positionedDecisionOf } from '../../pipeline/ports/decision-row.ts';
import type { Delivery } from '../../pipeline/ports/delivery.ts';
import type { VapidKeys } from '../../pipeline/ports/key-store.ts';
import { removalEntry } from '../../pipeline/runtime/push-channel.ts';
import { pushChannelFor, runSender } from '../../bin/send-command.ts';
import { UsageError } from '../../bin/usage-error.ts';
import { clickhouseClient } from '../clickhouse-cli.ts';
import { config, livePipeline } from './live-pipeline.ts';
import type { UserAgentKeys } from './push-decrypt.ts';
import { decryptPushMessage, userAgentKeys } from './push-decrypt.ts';

const PARTITIONS = 4;
const T0 = Date.UTC(2026, 11, 7, 9);
/** The push message the removal test decides with. */
const RULES = {
  index: buildRuleIndex(
    MessageListSchema.parse([
      {
        id: 'weekly-tip',
        channel: 'push',
        state: 'live',
        trigger: { event: 'tip' },
        template: { body: 'tip' },
      },
    ]),
  ),
  caps: compileCaps([]),
};
const SUBJECT = 'mailto:push@nudge.example';
const root = new URL('../../', import.meta.url).pathname;
const run = promisify(execFile);
const clickhouse = createClient({ url: config.clickhouseUrl });
let live: Awaited<ReturnType<typeof livePipeline>>;
let certFolder: string;
let server: Server;
let origin: string;
let vapid: VapidKeys;
let cliKeys: { made: string; again: string; rotated: string };
let noKeys: unknown;

/** What the local push service (RFC 8030) was asked, per subscription path. */
type PushRequest = { readonly headers: IncomingHttpHeaders; readonly body: Buffer };
const requests = new Map<string, PushRequest[]>();

/** How each subscription's push service answers: 201, 410 (gone), 503 the first time then 201. */
const ANSWERS: Record<string, (tries: number) => number> = {
  '/push/ada': () => 201,
  '/push/gone': () => 410,
  '/push/mixed-gone': () => 410,
  '/push/mixed-flaky': (tries) => (tries === 1 ? 503 : 201),
};

/** The browsers' side of each subscription: keys made here, from the RFCs. */
const browsers = new Map<string, UserAgentKeys>();
const subscription = (path: string): PushSubscription => {
  const keys = userAgentKeys();
  browsers.set(path, keys);
  return { endpoint: `${origin}${path}`, keys: keys.keys };
};

const delivery = (decision_id: string, user_id: string, channel = 'push'): Delivery => ({
  decision_id,
  message_id: 'weekly-tip',
  message_version: 3,
  user_id,
  channel,
  at: 1_000,
  subject: 'A tip for you',
  body: `Hi ${user_id}: "notes" & <links> — ünïcode ✓`,
});
const deliveries = [
  delivery('tip:ada', 'ada'),
  delivery('tip:gone', 'gone'),
  delivery('tip:mixed', 'mixed'),
  delivery('tip:nobody', 'nobody'),
];

/** The push service: records each request, answers as `ANSWERS` says. */
const pushService = (request: IncomingMessage, response: ServerResponse) => {
  const chunks: Buffer[] = [];
  request.on('data', (chunk: Buffer) => chunks.push(chunk));
  request.on('end', () => {
    const path = request.url ?? '';
    const tries = [...(requests.get(path) ?? []), { headers: request.headers, body: Buffer.concat(chunks) }];
    requests.set(path, tries);
    const status = ANSWERS[path]?.(tries.length) ?? 404;
    response.writeHead(status, status === 201 ? { location: `${path}/message/${tries.length}` } : {});
    response.end();
  });
};

beforeAll(async () => {
  live = await livePipeline(PARTITIONS);
  const { ns } = live;
  const env = { ...process.env, NUDGE_NAMESPACE: ns.name };
  const nudge = (...args: string[]) =>
    run(process.execPath, [join(root, 'bin/nudge.js'), ...args], { cwd: root, env }).then((r) =>
      r.stdout.trim(),
    );
  const cfg = { ...config, namespace: ns.name, partitions: PARTITIONS };

  // Before `nudge keys vapid` there is nothing to sign with.
  noKeys = await pushChannelFor({}, cfg, ns).then(
    () => undefined,
    (error: unknown) => error,
  );
  const made = await nudge('keys', 'vapid', '--subject', SUBJECT);
  const again = await nudge('keys', 'vapid');
  const rotated = await nudge('keys', 'vapid', '--rotate');
  cliKeys = { made, again, rotated };
  vapid = (await new JetStreamKeyStore(live.nc.jetstream(), ns).vapidKeys()) as VapidKeys;

  // A push service on loopback speaks HTTPS, as RFC 8030 has it (web-push speaks nothing else): a
  // certificate of its own, trusted by this process's default agent, which web-push uses.
  certFolder = await mkdtemp(join(tmpdir(), 'nudge-push-'));
  const [key, cert] = [join(certFolder, 'key.pem'), join(certFolder, 'cert.pem')];
  await run('openssl', [
    ...['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'],
    ...['-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=127.0.0.1'],
    ...['-addext', 'subjectAltName=IP:127.0.0.1'],
  ]);
  server = createServer({ key: await readFile(key), cert: await readFile(cert) }, pushService);
  globalAgent.options.ca = await readFile(cert);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;

  // The subscriptions reach the user states the way pages add them: `push_subscription` entries
  // on the log, applied by the matcher.
  const added: [string, string][] = [
    ['ada', '/push/ada'],
    ['gone', '/push/gone'],
    ['mixed', '/push/mixed-gone'],
    ['mixed', '/push/mixed-flaky'],
  ];
  await live.publish(
    added.map(([user_id, path]) => ({
      type: 'push_subscription',
      id: `add-${path}`,
      user_id,
      received_at: T0,
      action: 'add',
      subscription: subscription(path),
    })),
  );
  await live.decideAll(RULES, 100);

  await ensureDeliveriesStream(live.jsm, ns);
  await migrateAudit(clickhouse, ns.database);
  const js = live.nc.jetstream();
  for (const d of deliveries)
    await js.publish(ns.deliverySubject('push'), new TextEncoder().encode(JSON.stringify(d)), {
      msgID: d.decision_id,
    });
  // Another channel's delivery is not the push sender's to send.
  await js.publish(
    ns.deliverySubject('email'),
    new TextEncoder().encode(JSON.stringify(delivery('tip:mail', 'ada', 'email'))),
  );

  // `nudge send push` as the command composes it, until every push delivery has its outcome.
  const stop = new AbortController();
  const channel = await pushChannelFor({ ttl: '3600' }, cfg, ns);
  const sending = runSender('push', channel, cfg, ns, stop.signal, () => undefined).finally(() =>
    channel.close(),
  );
  for (let wait = 0; wait < 150 && (await outcomeCount()) < deliveries.length; wait++) await sleep(200);
  stop.abort();
  await sending;
}, 90_000);

afterAll(async () => {
  await new Promise<void>((resolve) => {
    server.close(() => {
      resolve();
    });
  });
  await rm(certFolder, { recursive: true, force: true });
  await live.jsm.streams.delete(live.ns.deliveriesStream).catch(() => false);
  await clickhouse.command({ query: `DROP DATABASE IF EXISTS \`${live.ns.database}\`` });
  await clickhouse.close();
  await live.close();
});

describe('nudge keys vapid', () => {
  it('makes the pair once, prints the same public key again, and replaces it with --rotate', () => {
    expect(noKeys).toBeInstanceOf(UsageError);
    expect((noKeys as Error).message).toContain('nudge keys vapid');
    expect(Buffer.from(cliKeys.made, 'base64url')).toHaveLength(65);
    expect(cliKeys.again).toBe(cliKeys.made);
    expect(cliKeys.rotated).not.toBe(cliKeys.made);
    expect(vapid).toMatchObject({ public_key: cliKeys.rotated, subject: SUBJECT });
  });
});

describe('the push sender', () => {
  it('pushes a payload that decrypts (RFC 8291) with the subscription keys to the delivery content', () => {
    const [request] = requests.get('/push/ada') ?? [];
    expect(request?.headers).toMatchObject({ 'content-encoding': 'aes128gcm', ttl: '3600' });
    expect(request?.headers['topic']).toMatch(/^[A-Za-z0-9_-]{32}$/);
    const plain = decryptPushMessage(
      request?.body ?? Buffer.alloc(0),
      browsers.get('/push/ada') as UserAgentKeys,
    );
    const { decision_id, message_id, user_id, subject, body, at } = deliveries[0] as Delivery;
    const { track, ...content } = JSON.parse(plain) as { track: string };
    expect(content).toEqual({ decision_id, message_id, subject, body });
    // The signed link its service worker reports `seen` and `clicked` to (README "Deliveries").
    const token = /\/v1\/track\/([A-Za-z0-9_-]+)\.[A-Za-z0-9_-]{43}$/.exec(track)?.[1] ?? '';
    expect(JSON.parse(Buffer.from(token, 'base64url').toString('utf8'))).toEqual({
      kind: 'click',
      decision_id,
      message_id,
      user_id,
      channel: 'push',
      at,
    });
  });

  it('signs each request with the VAPID key pair (RFC 8292) for the push service origin', () => {
    const authorization = requests.get('/push/ada')?.[0]?.headers.authorization ?? '';
    const [, jwt, k] = /^vapid t=([\w-]+\.[\w-]+\.[\w-]+), ?k=([\w-]+)$/.exec(authorization) ?? [];
    expect(k).toBe(vapid.public_key);
    const [header = '', claims = '', signature = ''] = (jwt ?? '').split('.');
    const point = Buffer.from(vapid.public_key, 'base64url');
    const key = createPublicKey({
      key: {
        kty: 'EC',
        crv: 'P-256',
        x: point.subarray(1, 33).toString('base64url'),
        y: point.subarray(33).toString('base64url'),
      },
      format: 'jwk',
    });
    const signed = Buffer.from(`${header}.${claims}`);
    const raw = Buffer.from(signature, 'base64url');
    expect(verify('sha256', signed, { key, dsaEncoding: 'ieee-p1363' }, raw)).toBe(true);
    expect(JSON.parse(Buffer.from(claims, 'base64url').toString())).toMatchObject({
      aud: origin,
      sub: SUBJECT,
    });
  });

  it('records a 201 as delivered', async () => {
    expect(await outcome('tip:ada')).toEqual([
      { outcome: 'delivered', attempts: 1, status: 201, reason: '' },
    ]);
  });

  it('fails a delivery to a subscription that is gone (410) once, and removes it through the log', async () => {
    expect(requests.get('/push/gone')).toHaveLength(1);
    expect(await outcome('tip:gone')).toEqual([
      { outcome: 'failed', attempts: 1, status: 410, reason: 'the push service answered 410' },
    ]);
    const removals = (await logEntries()).filter(
      (e) => e.user_id === 'gone' && e.id.startsWith('push-gone:'),
    );
    expect(removals).toEqual([
      {
        type: 'push_subscription',
        id: removalEntry(deliveries[1] as Delivery, subscriptionOf('/push/gone'), 0).id,
        user_id: 'gone',
        received_at: expect.any(Number) as number,
        action: 'remove',
        subscription: subscriptionOf('/push/gone'),
      },
    ]);
  });

  it('delivers to the subscription that takes it after a 503, and writes one removal id however often the gone one answers', async () => {
    expect(requests.get('/push/mixed-flaky')).toHaveLength(2);
    expect(requests.get('/push/mixed-gone')).toHaveLength(2);
    expect(await outcome('tip:mixed')).toEqual([
      { outcome: 'delivered', attempts: 2, status: 201, reason: '' },
    ]);
    const removals = (await logEntries()).filter(
      (e) => e.user_id === 'mixed' && e.id.startsWith('push-gone:'),
    );
    const id = removalEntry(deliveries[2] as Delivery, subscriptionOf('/push/mixed-gone'), 0).id;
    expect(removals.length).toBeGreaterThan(0);
    expect(removals.map((e) => [e.id, e.type === 'push_subscription' && e.subscription.endpoint])).toEqual(
      removals.map(() => [id, `${origin}/push/mixed-gone`]),
    );
  });

  it('the removal reaches the matcher: the next push to a user whose only subscription was gone is unreachable', async () => {
    const tracks = ['ada', 'gone', 'mixed'].map((user_id): LogEntry => ({
      type: 'track',
      id: `next-${user_id}`,
      name: 'tip',
      user_id,
      received_at: T0 + 60_000,
    }));
    await live.publish(tracks);
    await live.decideAll(RULES, 100);
    const decided = (await decisionsInStream()).filter((d) => d.entry_id.startsWith('next-'));
    expect(decided.map((d) => [d.user_id, d.outcome, d.reason]).sort()).toEqual([
      ['ada', 'sent', null],
      ['gone', 'suppressed', 'unreachable'],
      // The other subscription took the push: one left, still reachable.
      ['mixed', 'sent', null],
    ]);
  });

  it('fails a user without a subscription at once, and leaves other channels alone', async () => {
    expect(await outcome('tip:nobody')).toEqual([
      { outcome: 'failed', attempts: 1, status: 0, reason: 'no push subscription' },
    ]);
    const rows = await clickhouseClient<{ decision_id: string; channel: string }>(
      `SELECT decision_id, channel FROM \`${live.ns.database}\`.delivery_outcomes ORDER BY decision_id`,
    );
    expect(rows).toEqual(deliveries.map((d) => ({ decision_id: d.decision_id, channel: 'push' })).sort(byId));
  });
});

describe('push results', () => {
  it.each([
    [404, 'gone'],
    [410, 'gone'],
    [408, 'transient'],
    [429, 'transient'],
    [500, 'transient'],
    [503, 'transient'],
    [400, 'permanent'],
    [403, 'permanent'],
    [413, 'permanent'],
  ])('a %i from the push service is %s', (status, result) => {
    expect(pushResult(status, '')).toMatchObject({ result, status });
  });

  it('makes a removal entry id from the decision and the endpoint alone', () => {
    const sub = { endpoint: 'https://push.example/a', keys: { p256dh: 'p', auth: 'a' } };
    const first = removalEntry(delivery('d1', 'u'), sub, 1);
    expect(removalEntry(delivery('d1', 'u'), sub, 2).id).toBe(first.id);
    expect(removalEntry(delivery('d2', 'u'), sub, 1).id).not.toBe(first.id);
    expect(removalEntry(delivery('d1', 'u'), { ...sub, endpoint: 'https://push.example/b' }, 1).id).not.toBe(
      first.id,
    );
  });
});

const byId = (a: { decision_id: string }, b: { decision_id: string }) =>
  a.decision_id.localeCompare(b.decision_id);

function subscriptionOf(path: string): PushSubscription {
  return { endpoint: `${origin}${path}`, keys: (browsers.get(path) as UserAgentKeys).keys };
}

/** Every decision the matcher published so far. */
async function decisionsInStream(): Promise<Decision[]> {
  const { jsm, ns } = live;
  const info = await jsm.streams.info(ns.decisionsStream);
  const found: Decision[] = [];
  for (let seq = info.state.first_seq; info.state.messages > 0 && seq <= info.state.last_seq; seq++) {
    const message = await jsm.streams.getMessage(ns.decisionsStream, { seq });
    for (const line of new TextDecoder().decode(message.data).split('\n'))
      if (line !== '') found.push(positionedDecisionOf(JSON.parse(line) as DecisionRow).decision);
  }
  return found;
}

/** Every entry on the namespace's log, read off the stream. */
async function logEntries(): Promise<LogEntry[]> {
  const { jsm, ns } = live;
  const last = (await jsm.streams.info(ns.logStream)).state.last_seq;
  const entries: LogEntry[] = [];
  for (let seq = 1; seq <= last; seq++) {
    const message = await jsm.streams.getMessage(ns.logStream, { seq });
    for (const line of new TextDecoder().decode(message.data).split('\n'))
      if (line !== '') entries.push(JSON.parse(line) as LogEntry);
  }
  return entries;
}

/** Outcomes recorded so far. */
async function outcomeCount(): Promise<number> {
  const query = `SELECT count() AS n FROM \`${live.ns.database}\`.delivery_outcomes`;
  const rows = await clickhouse
    .query({ query, format: 'JSONEachRow' })
    .then((result) => result.json<{ n: string }>());
  return Number(rows[0]?.n ?? 0);
}

async function outcome(decisionId: string) {
  return clickhouseClient<{ outcome: string; attempts: number; status: number; reason: string }>(
    `SELECT outcome, attempts, status, reason FROM \`${live.ns.database}\`.delivery_outcomes WHERE decision_id = '${decisionId}'`,
  );
}
