import { JetStreamPublisher } from '../../pipeline/adapters/nats/jetstream-publisher.ts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrateAudit } from '../../pipeline/adapters/clickhouse/audit-schema.ts';
import { ClickHouseAuditSink } from '../../pipeline/adapters/clickhouse/clickhouse-audit-sink.ts';
import { JetStreamCheckpoints } from '../../pipeline/adapters/nats/jetstream-checkpoints.ts';
import {
  ensureDeadLettersStream,
  JetStreamDeadLetters,
} from '../../pipeline/adapters/nats/jetstream-dead-letters.ts';
import {
  ensureDecisionsStream,
  JetStreamDecisionSink,
} from '../../pipeline/adapters/nats/jetstream-decision-sink.ts';
import { JetStreamLogSource } from '../../pipeline/adapters/nats/jetstream-log-source.ts';
import { decodeValue } from '../../pipeline/adapters/nats/packs.ts';
import { RedisStateStore } from '../../pipeline/adapters/redis/redis-state-store.ts';
import { compileCaps } from '../../pipeline/core/caps.ts';
import type { LogEntry } from '../../pipeline/core/log-entry.ts';
import { partitionOf } from '../../pipeline/core/partition.ts';
import { buildRuleIndex } from '../../pipeline/core/rule-index.ts';
import type { Delivery } from '../../pipeline/ports/delivery.ts';
import { PartitionWorker } from '../../pipeline/runtime/partition-worker.ts';
import { apiFixture, NOW, PARTITIONS } from './api-fixture.ts';
import { expectErrorShape, recordOf, send } from './api-helpers.ts';

/**
 * The composer's routes (issue #19) on the real NATS, Redis and ClickHouse: entries ingested
 * through the API, applied to users' states by a matcher's workers and stored in the log's audit
 * as the audit writer stores them; then the recent entries of an event, a template rendered with
 * one of them and a user, a test send on the deliveries stream, and when each message changed.
 */
let f: Awaited<ReturnType<typeof apiFixture>>;

beforeAll(async () => {
  f = await apiFixture();
  const jsm = await f.nc.jetstreamManager();
  await ensureDecisionsStream(jsm, f.ns);
  await ensureDeadLettersStream(jsm, f.ns);
  await migrateAudit(f.clickhouse, f.ns.database);
  await ingest([
    { type: 'identify', id: 'i-ada', user_id: 'ada', attributes: { email: 'ada@example.com', name: 'Ada' } },
    { type: 'identify', id: 'i-bob', user_id: 'bob', attributes: { name: 'Bob' } },
    { type: 'identify', id: 'i-cy', user_id: 'cy', attributes: { email: 'cy@example.com' } },
    track('t-ada', 'ada', { file_name: 'report.pdf', duration_s: 130 }, { url: 'https://app.example/up' }),
    track('t-bob', 'bob', { file_name: 'notes.txt', duration_s: 20 }),
    track('t-other', 'ada', { file_name: 'x' }, undefined, 'something-else'),
  ]);
  const optOut = await send(f.app, {
    method: 'PUT',
    url: '/v1/users/cy/preferences',
    key: f.keys.admin,
    body: { channels: { email: false } },
  });
  expect(optOut.statusCode, optOut.body).toBe(202);
  await applyLog();
  await auditLog();
}, 60_000);

afterAll(async () => {
  await f.close();
});

function track(
  id: string,
  user_id: string,
  metadata?: Record<string, unknown>,
  context?: Record<string, unknown>,
  name = 'upload-completed',
) {
  return {
    type: 'track',
    id,
    name,
    user_id,
    ...(metadata === undefined ? {} : { metadata }),
    ...(context === undefined ? {} : { context }),
  };
}

async function ingest(events: unknown[]): Promise<void> {
  const response = await send(f.app, {
    method: 'POST',
    url: '/v1/events',
    key: f.keys.ingest,
    body: { events },
  });
  expect(response.statusCode, response.body).toBe(202);
}

/** The matcher: a worker per partition, each until it finds nothing more (no message is live: states only). */
async function applyLog(): Promise<void> {
  const js = f.nc.jetstream();
  for (let partition = 0; partition < PARTITIONS; partition++) {
    const worker = new PartitionWorker({
      partition,
      holder: 'composer test',
      source: new JetStreamLogSource(js, f.ns, 300),
      store: new RedisStateStore(f.redis, f.ns),
      sink: new JetStreamDecisionSink(new JetStreamPublisher(f.nc), f.ns),
      deadLetters: new JetStreamDeadLetters(js, f.ns),
      checkpoints: new JetStreamCheckpoints(js, f.ns, new JetStreamPublisher(f.nc)),
      rebuild: () => Promise.reject(new Error('no rebuild here: Redis is not wiped in this test')),
      rules: () => ({ index: buildRuleIndex([]), caps: compileCaps([]) }),
      leaseMs: 30_000,
      batchSize: 100,
    });
    for (let step = 0; step < 100; step++) if ((await worker.step()).kind !== 'decided') break;
  }
}

/** The log's entries into its audit, as the audit writer stores them (each at its place in the log). */
async function auditLog(): Promise<void> {
  const logged = await f.logged();
  await new ClickHouseAuditSink(f.clickhouse, f.ns.database).insertEntries(
    logged.map((entry, i) => ({
      entry,
      partition: partitionOf(entry.user_id, PARTITIONS),
      seq: i + 1,
      position: 0,
    })),
  );
}

const get = (url: string, key = f.keys.read) => send(f.app, { method: 'GET', url, key });
const post = (url: string, body: unknown, key = f.keys.read) =>
  send(f.app, { method: 'POST', url, key, body });

describe('GET /v1/catalog/events/:name/recent', () => {
  it('answers the entries of that name ingested, with their metadata and context as objects', async () => {
    const response = await get('/v1/catalog/events/upload-completed/recent');
    expect(response.statusCode, response.body).toBe(200);
    const { entries } = recordOf(response) as { entries: { entry_id: string }[] };
    expect([...entries].sort((a, b) => a.entry_id.localeCompare(b.entry_id))).toEqual([
      {
        entry_id: 't-ada',
        user_id: 'ada',
        received_at: NOW,
        metadata: { file_name: 'report.pdf', duration_s: 130 },
        context: { url: 'https://app.example/up' },
      },
      {
        entry_id: 't-bob',
        user_id: 'bob',
        received_at: NOW,
        metadata: { file_name: 'notes.txt', duration_s: 20 },
        context: {},
      },
    ]);
    expect(recordOf(await get('/v1/catalog/events/upload-completed/recent?limit=1'))['entries']).toHaveLength(
      1,
    );
    expect(recordOf(await get('/v1/catalog/events/never-seen/recent'))).toEqual({ entries: [] });
  });

  it('is newest first, an entry the log holds twice once, and at most `limit`', async () => {
    const at = (id: string, received_at: number): LogEntry => ({
      type: 'track',
      id,
      name: 'ordered',
      user_id: 'ann',
      received_at,
      metadata: { n: received_at - NOW },
    });
    // e2 is held twice (a client's retry, in two places of the log): the later place is the one shown.
    const log = [at('e1', NOW + 1), at('e2', NOW + 2), at('e3', NOW + 3), at('e2', NOW + 4)];
    await new ClickHouseAuditSink(f.clickhouse, f.ns.database).insertEntries(
      log.map((entry, i) => ({ entry, partition: 0, seq: 1_000 + i, position: 0 })),
    );
    const answer = recordOf(await get('/v1/catalog/events/ordered/recent')) as {
      entries: { entry_id: string; received_at: number }[];
    };
    expect(answer.entries.map((e) => [e.entry_id, e.received_at - NOW])).toEqual([
      ['e2', 4],
      ['e3', 3],
      ['e1', 1],
    ]);
    const two = recordOf(await get('/v1/catalog/events/ordered/recent?limit=2')) as {
      entries: { entry_id: string }[];
    };
    expect(two.entries.map((e) => e.entry_id)).toEqual(['e2', 'e3']);
  });

  it.each(['0', '51', 'ten'])('refuses limit=%s, naming limit', async (limit) => {
    const error = expectErrorShape(await get(`/v1/catalog/events/ordered/recent?limit=${limit}`), 400);
    expect(error.message).toMatch(/^querystring\.limit: /);
  });
});

describe('POST /v1/messages/preview', () => {
  const template = {
    subject: '{{ event.name }}',
    body: 'Hi {{ user.name | fallback: "there" }}, {{ metadata.file_name }} from {{ context.url | fallback: "?" }}',
  };
  const entry = {
    metadata: { file_name: 'report.pdf', duration_s: 130 },
    context: { url: 'https://app.example/up' },
  };

  it('renders with an entry and no user: user.<key> falls back, user is {}', async () => {
    const response = await post('/v1/messages/preview', { template, event: 'upload-completed', ...entry });
    expect(response.statusCode, response.body).toBe(200);
    expect(recordOf(response)).toEqual({
      subject: 'upload-completed',
      body: 'Hi there, report.pdf from https://app.example/up',
      user: {},
    });
    // Before a trigger event is picked: {{ event.name }} renders "".
    const unpicked = await post('/v1/messages/preview', { template, event: '' });
    expect(recordOf(unpicked)).toEqual({ subject: '', body: 'Hi there,  from ?', user: {} });
  });

  it("renders with the user's attributes from their state, and answers them", async () => {
    const response = await post('/v1/messages/preview', {
      template: { body: template.body },
      user_id: 'ada',
      ...entry,
    });
    expect(recordOf(response)).toEqual({
      subject: null,
      body: 'Hi Ada, report.pdf from https://app.example/up',
      user: { email: 'ada@example.com', name: 'Ada' },
    });
    // A user the matcher never saw has no attributes.
    const nobody = await post('/v1/messages/preview', {
      template: { body: '{{ user.name }}!' },
      user_id: 'nobody',
    });
    expect(recordOf(nobody)).toEqual({ subject: null, body: '!', user: {} });
  });

  it('reads only the first 20 metadata keys, as a decision does', async () => {
    const metadata = Object.fromEntries(Array.from({ length: 21 }, (_, i) => [`k${i + 1}`, i + 1]));
    const response = await post('/v1/messages/preview', {
      template: { body: '{{ metadata.k20 }}/{{ metadata.k21 | fallback: "unusable" }}' },
      metadata,
    });
    expect(recordOf(response)['body']).toBe('20/unusable');
  });

  it.each([
    [{ template: { body: 'Hi {{ user.name' } }, /^template\.body: malformed placeholder at character 3/],
    [{ template: { body: '{{ nope.x }}' } }, /^template\.body: unknown field "nope\.x"/],
    [{ template: { body: 'ok', subject: '{{' } }, /^template\.subject: malformed placeholder/],
    [{ template: { body: 'ok' }, metadata: { a: { b: 1 } } }, /^metadata\.a: /],
    [{ template: { body: 'ok' }, usr: 'ada' }, /usr/],
    [{}, /^template: /],
  ])('a 400 names the problem: %j', async (body, problem) => {
    const error = expectErrorShape(await post('/v1/messages/preview', body), 400);
    expect(error.code).toBe('invalid_request');
    expect(error.message).toMatch(problem);
  });
});

describe('POST /v1/messages/test-send', () => {
  const draft = (channel: string, id = `welcome-${channel}`) => ({
    id,
    channel,
    state: 'draft',
    trigger: { event: 'upload-completed', where: { field: 'metadata.duration_s', op: 'gt', value: 1_000 } },
    template: {
      subject: 'For {{ user.name }}',
      body: '{{ metadata.file_name | fallback: "your file" }} on {{ event.name }}',
    },
  });

  /** Every delivery on the namespace's deliveries stream, in order, with the subject it is on. */
  async function deliveries(): Promise<{ subject: string; delivery: Delivery }[]> {
    const jsm = await f.nc.jetstreamManager();
    const info = await jsm.streams.info(f.ns.deliveriesStream).catch(() => undefined);
    const found: { subject: string; delivery: Delivery }[] = [];
    for (let seq = info?.state.first_seq ?? 1; info !== undefined && seq <= info.state.last_seq; seq++) {
      const stored = await jsm.streams.getMessage(f.ns.deliveriesStream, { seq });
      found.push({ subject: stored.subject, delivery: decodeValue(stored.data) as Delivery });
    }
    return found;
  }

  it('puts exactly one delivery, marked test, on the channel, and nothing on the log', async () => {
    const before = { deliveries: (await deliveries()).length, logged: (await f.logged()).length };
    const response = await post(
      '/v1/messages/test-send',
      { message: draft('email'), user_id: 'ada', metadata: { file_name: 'report.pdf' } },
      f.keys.admin,
    );
    expect(response.statusCode, response.body).toBe(202);
    const answer = recordOf(response);
    expect(answer).toEqual({
      decision_id: expect.stringMatching(/^test\/welcome-email\/[0-9a-f-]{36}$/) as unknown,
      channel: 'email',
      user_id: 'ada',
      subject: 'For Ada',
      body: 'report.pdf on upload-completed',
    });
    const after = await deliveries();
    expect(after.length - before.deliveries).toBe(1);
    expect(after.at(-1)?.subject).toBe(f.ns.deliverySubject('email'));
    expect(after.at(-1)?.delivery).toEqual({
      decision_id: answer['decision_id'],
      message_id: 'welcome-email',
      message_version: 1,
      user_id: 'ada',
      channel: 'email',
      at: NOW,
      subject: 'For Ada',
      body: 'report.pdf on upload-completed',
      test: true,
    });
    expect((await f.logged()).length).toBe(before.logged);
    // The draft was not stored either.
    expect((await get('/v1/messages/welcome-email')).statusCode).toBe(404);
  });

  it.each([
    [
      'email',
      'bob',
      { reason: 'unreachable', channel: 'email', needs: 'user.email' },
      'email needs user.email, and user "bob" has none',
    ],
    ['sms', 'ada', { reason: 'unreachable', channel: 'sms', needs: 'user.phone' }, 'sms needs user.phone'],
    [
      'push',
      'ada',
      { reason: 'unreachable', channel: 'push', needs: 'a push subscription' },
      'push needs a push subscription',
    ],
    [
      'email',
      'nobody',
      { reason: 'unreachable', channel: 'email', needs: 'user.email' },
      'user "nobody" has none',
    ],
    [
      'email',
      'cy',
      { reason: 'unsubscribed', opted_out_of: 'channel', channel: 'email' },
      'user "cy" opted out of email',
    ],
  ])(
    'a %s test send to %s is a 409 naming why, and sends nothing',
    async (channel, user, details, sentence) => {
      const before = (await deliveries()).length;
      const response = await post(
        '/v1/messages/test-send',
        { message: draft(channel), user_id: user },
        f.keys.admin,
      );
      const error = expectErrorShape(response, 409);
      expect(error).toMatchObject({ code: 'conflict', details });
      expect(error.message).toContain(sentence);
      expect((await deliveries()).length).toBe(before);
    },
  );

  it('sends in-app and webhook messages to any user (they need no address)', async () => {
    for (const channel of ['banner', 'webhook']) {
      const response = await post(
        '/v1/messages/test-send',
        { message: draft(channel), user_id: 'bob' },
        f.keys.admin,
      );
      expect(response.statusCode, response.body).toBe(202);
      expect(recordOf(response)['subject']).toBe('For Bob');
    }
  });

  it.each([
    [
      { message: { ...draft('email'), template: { body: '{{ x' } }, user_id: 'ada' },
      /^message\.template\.body: malformed placeholder/,
    ],
    [{ message: { ...draft('email'), channel: 'fax' }, user_id: 'ada' }, /^message\.channel: /],
    [{ message: draft('email') }, /^user_id: /],
    [{ message: draft('email'), user_id: 'ada', extra: 1 }, /extra/],
  ])('a 400 names the problem: %j', async (body, problem) => {
    const error = expectErrorShape(await post('/v1/messages/test-send', body, f.keys.admin), 400);
    expect(error.message).toMatch(problem);
  });
});

describe('when messages last changed', () => {
  it('GET /v1/messages and /versions answer stored_at beside the definitions, which PUT takes back as they are', async () => {
    const definition = {
      id: 'changed',
      channel: 'banner',
      state: 'draft',
      trigger: { event: 'x' },
      template: { body: 'hi' },
    };
    const before = Date.now();
    expect((await post('/v1/messages', definition, f.keys.admin)).statusCode).toBe(201);
    expect((await post('/v1/messages/changed/launch', undefined, f.keys.admin)).statusCode).toBe(200);
    const after = Date.now();
    const versions = recordOf(await get('/v1/messages/changed/versions')) as {
      versions: { version: number }[];
      stored_at: number[];
    };
    expect(versions.versions.map((v) => v.version)).toEqual([1, 2]);
    expect(versions.stored_at).toHaveLength(2);
    const [first = 0, second = 0] = versions.stored_at;
    expect(second).toBeGreaterThanOrEqual(first);
    // The catalog's clock (NATS's, on this machine) rather than the API's, fixed at NOW here; a
    // second either side for reading the clock in two processes.
    expect(first).toBeGreaterThanOrEqual(before - 1_000);
    expect(second).toBeLessThanOrEqual(after + 1_000);

    const list = recordOf(await get('/v1/messages')) as { messages: { id: string }[]; stored_at: number[] };
    expect(list.stored_at).toHaveLength(list.messages.length);
    const i = list.messages.findIndex((m) => m.id === 'changed');
    expect(list.stored_at[i]).toBe(second);
    const put = await send(f.app, {
      method: 'PUT',
      url: '/v1/messages/changed',
      key: f.keys.admin,
      body: list.messages[i],
    });
    expect(recordOf(put)).toMatchObject({ change: 'unchanged', message: { version: 2 } });
  });
});
