import { randomUUID } from 'node:crypto';
import type { HTTPMethods, LightMyRequestResponse } from 'fastify';
import { afterAll, describe, expect, it } from 'vitest';
import type { Scope } from '../../api/auth/api-keys.ts';
import { SCOPES } from '../../api/auth/api-keys.ts';
import { decodeValue } from '../../pipeline/adapters/nats/packs.ts';
import { apiFixture, clientHeaders } from './api-fixture.ts';
import { bodyOf, expectErrorShape, isRecord, send } from './api-helpers.ts';

// The rows are built from the running API's own OpenAPI document, so they must exist when the file
// is collected: hence a fixture made at the top level rather than in beforeAll.
const f = await apiFixture();
afterAll(async () => {
  await f.close();
});

type Route = { readonly method: HTTPMethods; readonly path: string; readonly open: boolean };

/**
 * Routes anyone may call, by design: the probes and the metrics (the documentation is hidden from
 * the document). The document itself says every route needs a key, these included (reported), so
 * they are named here; a route the document marks `security: []` is open as well.
 */
const PUBLIC = new Set(['/healthz', '/readyz', '/metrics']);
const OPENAPI_METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'] as const;

function routesOf(doc: unknown): Route[] {
  if (!isRecord(doc) || !isRecord(doc['paths'])) throw new Error('the OpenAPI document has no paths');
  return Object.entries(doc['paths']).flatMap(([path, item]) =>
    isRecord(item)
      ? OPENAPI_METHODS.flatMap((method) => {
          const operation = item[method];
          if (!isRecord(operation)) return [];
          const security = operation['security'];
          const open = PUBLIC.has(path) || (Array.isArray(security) && security.length === 0);
          return [{ method: method.toUpperCase(), path, open }];
        })
      : [],
  );
}

const documented = routesOf(bodyOf(await send(f.app, { method: 'GET', url: '/openapi.json' })));
const routes = documented.filter((route) => !route.open);
const openRoutes = documented.filter((route) => route.open);
const nameOf = (route: Route) => `${route.method} ${route.path}`;

/** A request a route answers with a 2xx when the key is allowed. */
type Prepared = {
  readonly url: string;
  readonly body?: unknown;
  readonly headers?: Readonly<Record<string, string>>;
};

/**
 * What is known of a route: the scope it needs and a valid request (after any setup it needs, done
 * with the admin key). A route validates its request before it checks the key (reported), so
 * without a valid request a refused key is answered 400, not 401: every route with a body, a
 * required query or a strict path parameter belongs here. `effect` tells whether the request did
 * what it does, so a refused key is shown to leave nothing behind; `succeeds: false` where a 2xx
 * needs a service the fixture does not set up.
 */
type Known = {
  readonly scope: Scope;
  readonly request: (run: string) => Promise<Prepared>;
  readonly effect?: (run: string) => Promise<boolean>;
  readonly succeeds?: false;
  /** A stream that stays open once let in: only its refusals are checked here (inject waits for an end). */
  readonly endless?: true;
};

const admin = (method: HTTPMethods, url: string, body?: unknown) =>
  send(f.app, { method, url, key: f.keys.admin, ...(body === undefined ? {} : { body }) });

const draft = (id: string) => ({
  id,
  channel: 'push',
  state: 'draft',
  trigger: { event: 'auth_matrix' },
  frequency: { min_interval: '1h' },
  template: { body: 'hello' },
});

async function createMessage(id: string): Promise<void> {
  const response = await admin('POST', '/v1/messages', draft(id));
  if (response.statusCode !== 201) throw new Error(`setup: message ${id} not created: ${response.body}`);
}

/** The latest version of a message, or undefined when there is none. */
async function messageOf(id: string): Promise<Record<string, unknown> | undefined> {
  const response = await admin('GET', `/v1/messages/${id}`);
  if (response.statusCode === 404) return undefined;
  const body = bodyOf(response);
  if (!isRecord(body) || !isRecord(body['message'])) throw new Error(`no message in ${response.body}`);
  return body['message'];
}

const logged = async (id: string) => (await f.logged()).some((entry) => entry.id === id);

const onMessage =
  (suffix: string, body?: (id: string) => unknown) =>
  async (id: string): Promise<Prepared> => {
    await createMessage(id);
    return { url: `/v1/messages/${id}${suffix}`, ...(body === undefined ? {} : { body: body(id) }) };
  };
const inState = (state: string) => async (id: string) => (await messageOf(id))?.['state'] === state;

/** A push subscription of its own per run (its endpoint names the run), with keys of the right lengths. */
const pushSubscription = (run: string) => ({
  endpoint: `https://push.example/send/${run}`,
  keys: {
    p256dh: 'BNcRdreALRFXTkOOUHK1EtK2wtaz5Ry4YfYCA_0QTpQtUbVlUls0VJXg7A8u-Ts1XbjhazAkj7I99e8QcYP7DkM',
    auth: 'tBHItJI5svbpez7KI4CCXg',
  },
});
const pushLogged = (action: 'add' | 'remove') => async (run: string) =>
  (await f.logged()).some(
    (entry) =>
      entry.type === 'push_subscription' &&
      entry.action === action &&
      entry.subscription.endpoint === pushSubscription(run).endpoint,
  );

/** Whether a test send of the run's message is on the deliveries stream. */
async function testSent(id: string): Promise<boolean> {
  const jsm = await f.nc.jetstreamManager();
  const info = await jsm.streams.info(f.ns.deliveriesStream).catch(() => undefined);
  for (let seq = info?.state.first_seq ?? 1; info !== undefined && seq <= info.state.last_seq; seq++) {
    const stored = await jsm.streams.getMessage(f.ns.deliveriesStream, { seq });
    if ((decodeValue(stored.data) as { message_id?: unknown }).message_id === id) return true;
  }
  return false;
}

/** A cap distinct per run, so that each PUT /v1/caps is a change that can be seen. */
const capOf = (run: string) => parseInt(run.slice(-6), 16);

const KNOWN: Readonly<Record<string, Known>> = {
  'POST /v1/events': {
    scope: 'ingest',
    request: (id) =>
      Promise.resolve({
        url: '/v1/events',
        body: { type: 'track', id, name: 'auth_matrix', user_id: 'u-auth' },
      }),
    effect: logged,
  },
  'POST /v1/users/{id}': {
    scope: 'ingest',
    request: (id) =>
      Promise.resolve({ url: '/v1/users/u-auth', body: { id, attributes: { checked: true } } }),
    effect: logged,
  },
  'POST /v1/batch': {
    scope: 'ingest',
    request: (id) =>
      Promise.resolve({
        url: '/v1/batch',
        body: { batch: [{ type: 'track', messageId: id, userId: 'u-auth', event: 'auth_matrix' }] },
      }),
    effect: logged,
  },
  'POST /v1/track': {
    scope: 'ingest',
    request: (id) =>
      Promise.resolve({ url: '/v1/track', body: { messageId: id, userId: 'u-auth', event: 'auth_matrix' } }),
    effect: logged,
  },
  'POST /v1/identify': {
    scope: 'ingest',
    request: (id) =>
      Promise.resolve({ url: '/v1/identify', body: { messageId: id, userId: 'u-auth', traits: { a: 1 } } }),
    effect: logged,
  },
  'POST /events': {
    scope: 'ingest',
    // Intercom's events carry no id: the entry's is a digest of user, name and time, so the run
    // is told by a user of its own.
    request: (id) =>
      Promise.resolve({ url: '/events', body: { event_name: 'auth_matrix', created_at: 1, user_id: id } }),
    effect: async (id) => (await f.logged()).some((entry) => entry.user_id === id),
  },
  'GET /v1/messages': { scope: 'read', request: () => Promise.resolve({ url: '/v1/messages' }) },
  'POST /v1/messages': {
    scope: 'admin',
    request: (id) => Promise.resolve({ url: '/v1/messages', body: draft(id) }),
    effect: async (id) => (await messageOf(id)) !== undefined,
  },
  'GET /v1/messages/{id}': { scope: 'read', request: onMessage('') },
  'PUT /v1/messages/{id}': {
    scope: 'admin',
    request: onMessage('', (id) => ({ ...draft(id), priority: 2 })),
    effect: async (id) => (await messageOf(id))?.['priority'] === 2,
  },
  'DELETE /v1/messages/{id}': {
    scope: 'admin',
    request: onMessage(''),
    effect: async (id) => (await messageOf(id)) === undefined,
  },
  'GET /v1/messages/{id}/versions': { scope: 'read', request: onMessage('/versions') },
  'POST /v1/messages/{id}/launch': { scope: 'admin', request: onMessage('/launch'), effect: inState('live') },
  'POST /v1/messages/{id}/pause': { scope: 'admin', request: onMessage('/pause'), effect: inState('paused') },
  'POST /v1/messages/{id}/stop': { scope: 'admin', request: onMessage('/stop'), effect: inState('stopped') },
  'POST /v1/messages/validate': {
    scope: 'read',
    request: (id) => Promise.resolve({ url: '/v1/messages/validate', body: draft(id) }),
  },
  'POST /v1/messages/preview': {
    scope: 'read',
    request: () =>
      Promise.resolve({
        url: '/v1/messages/preview',
        body: { template: { body: 'hi {{ user.name | fallback: "you" }}' }, user_id: 'u-auth' },
      }),
  },
  'POST /v1/messages/test-send': {
    scope: 'admin',
    // A webhook reaches every user: no address needed.
    request: (id) =>
      Promise.resolve({
        url: '/v1/messages/test-send',
        body: { message: { ...draft(id), channel: 'webhook' }, user_id: 'u-auth' },
      }),
    effect: testSent,
  },
  'GET /v1/caps': { scope: 'read', request: () => Promise.resolve({ url: '/v1/caps' }) },
  'PUT /v1/caps': {
    scope: 'admin',
    request: (id) => Promise.resolve({ url: '/v1/caps', body: { caps: [{ max: capOf(id), per: '1d' }] } }),
    effect: async (id) => {
      const body = bodyOf(await admin('GET', '/v1/caps'));
      const caps = isRecord(body) && Array.isArray(body['caps']) ? (body['caps'] as unknown[]) : [];
      return caps.some((cap) => isRecord(cap) && cap['max'] === capOf(id));
    },
  },
  'GET /v1/catalog/events': {
    scope: 'read',
    request: () => Promise.resolve({ url: '/v1/catalog/events' }),
    // Counts come from ClickHouse, which the fixture leaves without a database.
    succeeds: false,
  },
  'GET /v1/catalog/events/{name}/recent': {
    scope: 'read',
    request: () => Promise.resolve({ url: '/v1/catalog/events/auth_matrix/recent' }),
    // The entries are in ClickHouse, which the fixture leaves without a database: 503 once let in.
    succeeds: false,
  },
  // From Redis, which the fixture has: a 200 once let in (an empty list).
  'GET /v1/catalog/attributes': {
    scope: 'read',
    request: () => Promise.resolve({ url: '/v1/catalog/attributes' }),
  },
  'GET /v1/users/{id}/decisions': {
    scope: 'read',
    request: () => Promise.resolve({ url: '/v1/users/u-auth/decisions' }),
    // The audit is in ClickHouse, which the fixture leaves without a database: 503 once let in.
    succeeds: false,
  },
  // With no decision stored the stats count nothing (200); the deliveries' table is missing (503).
  ...Object.fromEntries(
    ['summary', 'series', 'messages', 'frequency', 'goals'].map((name) => [
      `GET /v1/stats/${name}`,
      { scope: 'read', request: () => Promise.resolve({ url: `/v1/stats/${name}` }) },
    ]),
  ),
  'GET /v1/stats/deliveries': {
    scope: 'read',
    request: () => Promise.resolve({ url: '/v1/stats/deliveries' }),
    succeeds: false,
  },
  'POST /v1/replays': {
    scope: 'admin',
    request: () => Promise.resolve({ url: '/v1/replays', body: { from: 0, to: 1_000 } }),
  },
  'POST /v1/replays/sweep': {
    scope: 'admin',
    request: () =>
      Promise.resolve({
        url: '/v1/replays/sweep',
        body: { from: 0, to: 1_000, message: 'auth-none', limit: 'min_interval', values: ['1h'] },
      }),
  },
  'GET /v1/replays/{id}': {
    scope: 'read',
    request: () => Promise.resolve({ url: '/v1/replays/r_0000000000000000' }),
    // No such replay: 404 once let in.
    succeeds: false,
  },
  'POST /v1/client/events': {
    scope: 'client',
    request: (id) =>
      Promise.resolve({
        url: '/v1/client/events',
        body: { id, name: 'auth_matrix' },
        headers: clientHeaders('u-auth'),
      }),
    effect: logged,
  },
  'POST /v1/client/identify': {
    scope: 'client',
    request: (id) =>
      Promise.resolve({
        url: '/v1/client/identify',
        body: { id, attributes: { plan: 'pro' } },
        headers: clientHeaders('u-auth'),
      }),
    effect: logged,
  },
  'GET /v1/client/inbox': {
    scope: 'client',
    request: () => Promise.resolve({ url: '/v1/client/inbox', headers: clientHeaders('u-auth') }),
  },
  'POST /v1/client/inbox/{decision_id}/{action}': {
    scope: 'client',
    // Nothing in the inbox: 404 once let in.
    request: () =>
      Promise.resolve({ url: '/v1/client/inbox/none:x/seen', body: {}, headers: clientHeaders('u-auth') }),
    succeeds: false,
  },
  'GET /v1/client/stream': {
    scope: 'client',
    request: () => Promise.resolve({ url: '/v1/client/stream', headers: clientHeaders('u-auth') }),
    endless: true,
  },
  // The one route outside /v1/client a client key reaches: its own user's (admin: any user's).
  'GET /v1/users/{id}/preferences': {
    scope: 'client',
    request: () => Promise.resolve({ url: '/v1/users/u-auth/preferences', headers: clientHeaders('u-auth') }),
  },
  'PUT /v1/users/{id}/preferences': {
    scope: 'client',
    request: (id) =>
      Promise.resolve({
        url: '/v1/users/u-auth/preferences',
        body: { messages: { [id]: false } },
        headers: clientHeaders('u-auth'),
      }),
    effect: async (id) =>
      (await f.logged()).some((entry) => entry.type === 'preferences' && Object.hasOwn(entry.messages, id)),
  },
  'GET /v1/client/push/key': {
    scope: 'client',
    request: () => Promise.resolve({ url: '/v1/client/push/key', headers: clientHeaders('u-auth') }),
    // The fixture makes no VAPID keys: 404 push_not_configured once let in.
    succeeds: false,
  },
  'POST /v1/client/push/subscriptions': {
    scope: 'client',
    request: (id) =>
      Promise.resolve({
        url: '/v1/client/push/subscriptions',
        body: { subscription: pushSubscription(id) },
        headers: clientHeaders('u-auth'),
      }),
    effect: pushLogged('add'),
  },
  'DELETE /v1/client/push/subscriptions': {
    scope: 'client',
    request: (id) =>
      Promise.resolve({
        url: '/v1/client/push/subscriptions',
        body: pushSubscription(id),
        headers: clientHeaders('u-auth'),
      }),
    effect: pushLogged('remove'),
  },
  'GET /v1/users/{id}/eligibility': {
    scope: 'read',
    request: async (id) => {
      await createMessage(id);
      return { url: `/v1/users/u-auth/eligibility?message=${id}` };
    },
  },
};

/** A route nothing is known of: its path with each parameter filled, and no body. */
const urlOf = (route: Route) => route.path.replace(/\{[^}]+\}/g, 'auth-probe');

/** The ingest key with its last character changed: well formed, right id, wrong secret. */
const wrongSecret = f.keys.ingest.slice(0, -1) + (f.keys.ingest.endsWith('A') ? 'B' : 'A');
/** The ingest key's secret under an id no key has. */
const unknownId = f.keys.ingest.replace(/^nudge_[0-9a-f]{16}_/, `nudge_${'0'.repeat(16)}_`);

type Expected = 401 | 403 | 'allowed' | 'one scope';
type Row = {
  readonly route: Route;
  readonly credential: string;
  readonly authorization: string | undefined;
  readonly expected: Expected;
};

const REFUSED: readonly (readonly [string, string | undefined])[] = [
  ['no Authorization header', undefined],
  ['Bearer garbage', 'Bearer garbage'],
  ['an empty Bearer', 'Bearer '],
  ['the key without "Bearer"', f.keys.ingest],
  ['the key as Basic, not encoded', `Basic ${f.keys.ingest}`],
  ['Basic with no user', `Basic ${Buffer.from(`:${f.keys.ingest}`).toString('base64')}`],
  ['a wrong secret', `Bearer ${wrongSecret}`],
  ['an unknown key id', `Bearer ${unknownId}`],
  ['the revoked key', `Bearer ${f.keys.revoked}`],
];

function rowsOf(route: Route): Row[] {
  const known = KNOWN[nameOf(route)];
  const refused = REFUSED.map(([credential, authorization]) => ({
    route,
    credential,
    authorization,
    expected: 401 as const,
  }));
  const scoped = SCOPES.map((scope) => {
    const expected: Expected =
      scope === 'admin' || scope === known?.scope ? 'allowed' : known === undefined ? 'one scope' : 403;
    return {
      route,
      credential: `a key of scope "${scope}"`,
      authorization: `Bearer ${f.keys[scope]}`,
      expected,
    };
  });
  return [...refused, ...scoped];
}

const rows = routes
  .flatMap(rowsOf)
  .filter((row) => !(KNOWN[nameOf(row.route)]?.endless === true && row.expected === 'allowed'));

describe('the routes under test', () => {
  it('come from the OpenAPI document: the ingest routes among them, and every route known here', () => {
    const names = routes.map(nameOf);
    expect(names).toEqual(expect.arrayContaining(['POST /v1/events', 'POST /v1/users/{id}']));
    // A known route gone from the API is a stale row here, not a route that passes.
    expect(names).toEqual(expect.arrayContaining(Object.keys(KNOWN)));
  });
});

describe('open routes', () => {
  it.each(openRoutes.map((route) => [nameOf(route), route] as const))(
    '%s answers without a key',
    async (_, route) => {
      const response = await send(f.app, { method: route.method, url: route.path });
      expect(response.statusCode, response.body).toBe(200);
    },
  );
});

describe('API keys on every route', () => {
  it.each(rows.map((row) => [nameOf(row.route), row.credential, row.expected, row] as const))(
    '%s with %s: %s',
    async (_, __, expected, row) => {
      const known = KNOWN[nameOf(row.route)];
      // Message ids allow letters, digits, "_", "." and "-", up to 128.
      const run = `am-${randomUUID()}`;
      const prepared: Prepared = known === undefined ? { url: urlOf(row.route) } : await known.request(run);
      const response = await send(f.app, {
        method: row.route.method,
        url: prepared.url,
        ...(prepared.body === undefined ? {} : { body: prepared.body }),
        headers: {
          ...prepared.headers,
          ...(row.authorization === undefined ? {} : { authorization: row.authorization }),
        },
      });
      if (expected === 401 || expected === 403) {
        const error =
          row.route.path === '/events'
            ? intercomError(response, expected)
            : expectErrorShape(response, expected);
        expect(error.code).toBe(expected === 401 ? 'unauthorized' : 'forbidden');
        // A refused request must leave nothing behind, not only answer an error.
        if (known?.effect !== undefined) expect(await known.effect(run)).toBe(false);
      } else if (known !== undefined && known.succeeds !== false) {
        expect(response.statusCode, response.body).toBeGreaterThanOrEqual(200);
        expect(response.statusCode, response.body).toBeLessThan(300);
        if (known.effect !== undefined) expect(await known.effect(run)).toBe(true);
      } else {
        // Without a request known to succeed, only the key's verdict can be checked: it let the request through.
        expect(response.statusCode, response.body).not.toBe(401);
        if (expected === 'allowed') expect(response.statusCode, response.body).not.toBe(403);
      }
    },
  );
});

/** Intercom's error list, which `POST /events` answers with (so code written for Intercom reads it). */
function intercomError(response: LightMyRequestResponse, status: number): { code: unknown } {
  expect(response.statusCode, response.body).toBe(status);
  const body = bodyOf(response);
  if (!isRecord(body) || body['type'] !== 'error.list' || !Array.isArray(body['errors']))
    throw new Error(`not an Intercom error list: ${response.body}`);
  const [first] = body['errors'] as unknown[];
  if (!isRecord(first)) throw new Error(`no error in ${response.body}`);
  return { code: first['code'] };
}

const unknownRoutes = routes.filter((route) => KNOWN[nameOf(route)] === undefined);
// A route needs one scope (admin aside): an ingest key and a read key cannot both get through.
describe.skipIf(unknownRoutes.length === 0)('routes nothing is known of', () => {
  it.each(unknownRoutes.map((route) => [nameOf(route), route] as const))(
    '%s needs one scope',
    async (_, route) => {
      const statuses = await Promise.all(
        (['ingest', 'read'] as const).map(
          async (scope) =>
            (await send(f.app, { method: route.method, url: urlOf(route), key: f.keys[scope] })).statusCode,
        ),
      );
      expect(statuses).toContain(403);
    },
  );
});
