import { JetStreamPublisher } from '../../pipeline/adapters/nats/jetstream-publisher.ts';
import webpush from 'web-push';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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
import { RedisStateStore } from '../../pipeline/adapters/redis/redis-state-store.ts';
import { compileCaps } from '../../pipeline/core/caps.ts';
import type { LogEntry } from '../../pipeline/core/log-entry.ts';
import { MessageSchema } from '../../pipeline/core/message-schema.ts';
import { partitionOf } from '../../pipeline/core/partition.ts';
import { buildRuleIndex } from '../../pipeline/core/rule-index.ts';
import type { UserState } from '../../pipeline/core/user-state.ts';
import type { PositionedDecision } from '../../pipeline/ports/decision-sink.ts';
import { PartitionWorker } from '../../pipeline/runtime/partition-worker.ts';
import type { Rules } from '../../pipeline/runtime/partition-worker.ts';
import { apiFixture, clientHeaders, NOW, PARTITIONS } from './api-fixture.ts';
import { expectErrorShape, recordOf, send } from './api-helpers.ts';

/**
 * A user's preferences and push subscriptions through the API (issue #17), on the real NATS and
 * Redis: each change is an entry on the log, applied by a matcher run here (one worker a
 * partition, as `nudge start` runs them), and read back from the user's state; an opt-out makes
 * the next send `suppressed`/`unsubscribed`.
 */
let f: Awaited<ReturnType<typeof apiFixture>>;

const message = (id: string, extra: Record<string, unknown> = {}) =>
  MessageSchema.parse({
    id,
    channel: 'email',
    state: 'live',
    trigger: { event: 'tip-due' },
    template: { subject: 'A tip', body: 'Try this' },
    ...extra,
  });
const RULES: Rules = {
  index: buildRuleIndex([message('weekly-tip'), message('receipt', { global_cap_exempt: true })]),
  caps: compileCaps([]),
};

beforeAll(async () => {
  f = await apiFixture();
  const jsm = await f.nc.jetstreamManager();
  await ensureDecisionsStream(jsm, f.ns);
  await ensureDeadLettersStream(jsm, f.ns);
}, 60_000);

afterAll(async () => {
  const jsm = await f.nc.jetstreamManager();
  for (const stream of f.ns.streams) await jsm.streams.delete(stream).catch(() => false);
  await f.close();
});

/** The matcher: a worker per partition, each until it finds nothing more; the decisions it made. */
async function applyLog(): Promise<PositionedDecision[]> {
  const js = f.nc.jetstream();
  const decided: PositionedDecision[] = [];
  for (let partition = 0; partition < PARTITIONS; partition++) {
    const worker = new PartitionWorker({
      partition,
      holder: 'preferences test',
      // A quiet partition answers after this wait: short, as every entry here is stored before it is read.
      source: new JetStreamLogSource(js, f.ns, 300),
      store: new RedisStateStore(f.redis, f.ns),
      sink: new JetStreamDecisionSink(new JetStreamPublisher(f.nc), f.ns),
      deadLetters: new JetStreamDeadLetters(js, f.ns),
      checkpoints: new JetStreamCheckpoints(js, f.ns, new JetStreamPublisher(f.nc)),
      rebuild: () => Promise.reject(new Error('no audit here: Redis is not wiped in this test')),
      rules: () => RULES,
      leaseMs: 30_000,
      batchSize: 100,
    });
    for (let step = 0; step < 100; step++) {
      const result = await worker.step();
      if (result.kind === 'decided') decided.push(...result.batch);
      else break;
    }
  }
  return decided;
}

async function stateOf(user: string): Promise<UserState | undefined> {
  const loaded = await new RedisStateStore(f.redis, f.ns).load(partitionOf(user, PARTITIONS), [user]);
  return loaded.states[0];
}

const loggedEntry = async (id: unknown): Promise<LogEntry | undefined> =>
  (await f.logged()).find((entry) => entry.id === id);

const path = (user: string) => `/v1/users/${encodeURIComponent(user)}/preferences`;

/** A preferences call with a key, and (for a client key) the headers of `as`. */
const preferences = (
  method: 'GET' | 'PUT',
  user: string,
  key: string,
  options: { as?: string; body?: unknown } = {},
) =>
  send(f.app, {
    method,
    url: path(user),
    key,
    ...(options.as === undefined ? {} : { headers: clientHeaders(options.as) }),
    ...(options.body === undefined ? {} : { body: options.body }),
  });

async function track(user: string, id: string): Promise<void> {
  const response = await send(f.app, {
    method: 'POST',
    url: '/v1/events',
    key: f.keys.ingest,
    body: { type: 'track', id, name: 'tip-due', user_id: user },
  });
  expect(response.statusCode, response.body).toBe(202);
}

describe('preferences', () => {
  it('an admin PUT is a preferences entry on the log; once applied, GET shows it and the send is unsubscribed', async () => {
    const identify = await send(f.app, {
      method: 'POST',
      url: '/v1/users/ada',
      key: f.keys.ingest,
      body: { attributes: { email: 'ada@example.com' } },
    });
    expect(identify.statusCode, identify.body).toBe(202);
    const put = await preferences('PUT', 'ada', f.keys.admin, { body: { channels: { email: false } } });
    expect(put.statusCode, put.body).toBe(202);
    const answer = recordOf(put);
    expect(answer).toEqual({
      id: expect.any(String) as unknown,
      preferences: { channels: { email: false }, messages: {} },
    });
    expect(await loggedEntry(answer['id'])).toEqual({
      type: 'preferences',
      id: answer['id'],
      user_id: 'ada',
      received_at: NOW,
      channels: { email: false },
      messages: {},
    });
    // Read from the applied state: nothing until the matcher applied the entry.
    expect(recordOf(await preferences('GET', 'ada', f.keys.admin))).toEqual({
      user_id: 'ada',
      channels: {},
      messages: {},
    });
    await applyLog();
    expect(recordOf(await preferences('GET', 'ada', f.keys.admin))).toEqual({
      user_id: 'ada',
      channels: { email: false },
      messages: {},
    });
    await track('ada', 't-ada-1');
    const decided = await applyLog();
    const outcome = (id: string) => {
      const found = decided.find((d) => d.decision.message_id === id)?.decision;
      return found === undefined ? undefined : [found.outcome, found.reason];
    };
    expect(outcome('weekly-tip')).toEqual(['suppressed', 'unsubscribed']);
    // A channel opt-out spares a transactional message.
    expect(outcome('receipt')).toEqual(['sent', null]);
  });

  it('opting back in (true or null) clears the opt-out', async () => {
    await preferences('PUT', 'bo', f.keys.admin, { body: { channels: { sms: false, push: false } } });
    await applyLog();
    expect(recordOf(await preferences('GET', 'bo', f.keys.admin))['channels']).toEqual({
      sms: false,
      push: false,
    });
    const back = await preferences('PUT', 'bo', f.keys.admin, {
      body: { channels: { sms: true, push: null } },
    });
    expect(recordOf(back)['preferences']).toEqual({ channels: { sms: true, push: null }, messages: {} });
    await applyLog();
    expect(recordOf(await preferences('GET', 'bo', f.keys.admin))['channels']).toEqual({});
  });

  it('a client key reads and changes its own user’s preferences, whatever characters the id holds', async () => {
    const user = 'bé/1 ü';
    const put = await preferences('PUT', user, f.keys.client, {
      as: user,
      body: { messages: { 'weekly-tip': false } },
    });
    expect(put.statusCode, put.body).toBe(202);
    expect(await loggedEntry(recordOf(put)['id'])).toMatchObject({ type: 'preferences', user_id: user });
    await applyLog();
    const got = await preferences('GET', user, f.keys.client, { as: user });
    expect(got.statusCode, got.body).toBe(200);
    expect(recordOf(got)).toEqual({ user_id: user, channels: {}, messages: { 'weekly-tip': false } });
    expect((await stateOf(user))?.optouts).toEqual(['message:weekly-tip']);
  });

  it('refuses a client key for another user (403 forbidden), a wrong hash, no user, a read or ingest key', async () => {
    const before = (await f.logged()).length;
    for (const method of ['GET', 'PUT'] as const) {
      const body = method === 'PUT' ? { channels: { email: false } } : undefined;
      const other = await preferences(method, 'carol', f.keys.client, { as: 'mallory', body });
      expect(expectErrorShape(other, 403)).toMatchObject({ code: 'forbidden' });
      expect(expectErrorShape(other, 403).message).toContain('"carol"');
      const wrongHash = await send(f.app, {
        method,
        url: path('carol'),
        key: f.keys.client,
        headers: { ...clientHeaders('carol'), 'x-nudge-user-hash': 'ab'.repeat(32) },
        ...(body === undefined ? {} : { body }),
      });
      expect(expectErrorShape(wrongHash, 403).code).toBe('user_not_verified');
      const noUser = await preferences(method, 'carol', f.keys.client, { body });
      expect(expectErrorShape(noUser, 401).code).toBe('unauthorized');
      for (const key of [f.keys.read, f.keys.ingest]) {
        const refused = await preferences(method, 'carol', key, { as: 'carol', body });
        const error = expectErrorShape(refused, 403);
        expect(error.code).toBe('forbidden');
        expect(error.message).toContain('"admin" or "client"');
      }
    }
    expect((await f.logged()).length).toBe(before);
  });

  it.each([
    [{ channels: { fax: false } }, 'unknown channel "fax"'],
    [{ channels: { email: 'no' } }, 'channels.email'],
    [{ messages: { 'no such id!': false } }, 'not a message id'],
    [{}, 'name at least one channel or message'],
    [{ chanels: { email: false } }, 'chanels'],
  ])('refuses %j with a 400 naming the problem', async (body, named) => {
    const response = await preferences('PUT', 'dan', f.keys.admin, { body });
    const error = expectErrorShape(response, 400);
    expect(error.code).toBe('invalid_request');
    expect(error.message).toContain(named);
  });

  it('answers a page’s CORS preflight for GET and PUT', async () => {
    const response = await f.app.inject({
      method: 'OPTIONS',
      url: path('ada'),
      headers: { origin: 'https://app.example', 'access-control-request-method': 'PUT' },
    });
    expect(response.statusCode).toBe(204);
    expect(response.headers['access-control-allow-methods']).toContain('PUT');
    expect(response.headers['access-control-allow-headers']).toContain('x-nudge-user-hash');
  });
});

describe('push subscriptions', () => {
  const subscription = {
    endpoint: 'https://push.example/send/abc123',
    keys: {
      p256dh: 'BNcRdreALRFXTkOOUHK1EtK2wtaz5Ry4YfYCA_0QTpQtUbVlUls0VJXg7A8u-Ts1XbjhazAkj7I99e8QcYP7DkM',
      auth: 'tBHItJI5svbpez7KI4CCXg',
    },
  };
  const asClient = (method: 'GET' | 'POST' | 'DELETE', url: string, user: string, body?: unknown) =>
    send(f.app, {
      method,
      url,
      key: f.keys.client,
      headers: clientHeaders(user),
      ...(body === undefined ? {} : { body }),
    });

  it('the VAPID public key: 404 push_not_configured until nudge keys vapid made them, then 200', async () => {
    const missing = await asClient('GET', '/v1/client/push/key', 'eve');
    const error = expectErrorShape(missing, 404);
    expect(error.code).toBe('push_not_configured');
    expect(error.message).toContain('nudge keys vapid');
    const { publicKey, privateKey } = webpush.generateVAPIDKeys();
    await f.keyStore.setVapidKeys({
      public_key: publicKey,
      private_key: privateKey,
      subject: 'mailto:ops@example.com',
    });
    const found = await asClient('GET', '/v1/client/push/key', 'eve');
    expect(found.statusCode, found.body).toBe(200);
    expect(recordOf(found)).toEqual({ public_key: publicKey });
  });

  it('a subscription added is a push_subscription entry for the verified user, kept in its state', async () => {
    const added = await asClient('POST', '/v1/client/push/subscriptions', 'eve', { subscription });
    expect(added.statusCode, added.body).toBe(202);
    const answer = recordOf(added);
    expect(answer).toEqual({ id: expect.any(String) as unknown, action: 'add', subscription });
    expect(await loggedEntry(answer['id'])).toEqual({
      type: 'push_subscription',
      id: answer['id'],
      user_id: 'eve',
      received_at: NOW,
      action: 'add',
      subscription,
    });
    await applyLog();
    expect((await stateOf('eve'))?.push).toEqual([subscription]);
  });

  it('removed by its endpoint alone (the keys from the state), or 404 when the user has none such', async () => {
    const unknown = await asClient('DELETE', '/v1/client/push/subscriptions', 'eve', {
      endpoint: 'https://push.example/send/other',
    });
    expect(expectErrorShape(unknown, 404).code).toBe('not_found');
    const removed = await asClient('DELETE', '/v1/client/push/subscriptions', 'eve', {
      endpoint: subscription.endpoint,
    });
    expect(removed.statusCode, removed.body).toBe(202);
    expect(await loggedEntry(recordOf(removed)['id'])).toMatchObject({
      type: 'push_subscription',
      user_id: 'eve',
      action: 'remove',
      subscription,
    });
    await applyLog();
    expect((await stateOf('eve'))?.push).toBeUndefined();
  });

  it('refuses what is not a subscription: expirationTime, a key too many, an endpoint that is no URL', async () => {
    for (const body of [
      { subscription: { ...subscription, expirationTime: null } },
      { subscription: { ...subscription, keys: { ...subscription.keys, extra: 'x' } } },
      { subscription: { ...subscription, endpoint: 'not a url' } },
      { subscription, user_id: 'someone-else' },
    ]) {
      const response = await asClient('POST', '/v1/client/push/subscriptions', 'eve', body);
      expect(expectErrorShape(response, 400).code, JSON.stringify(body)).toBe('invalid_request');
    }
    const preflight = await f.app.inject({
      method: 'OPTIONS',
      url: '/v1/client/push/subscriptions',
      headers: { origin: 'https://app.example', 'access-control-request-method': 'DELETE' },
    });
    expect(preflight.headers['access-control-allow-methods']).toContain('DELETE');
  });

  it('serves the service worker a page imports (importScripts) to show the notifications', async () => {
    const response = await f.app.inject({ method: 'GET', url: '/sdk/nudge-sw.js' });
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toMatch(/^application\/javascript/);
    expect(response.body).toContain('showNotification');
  });
});
