import { readFile } from 'node:fs/promises';
import type { HTTPMethods } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ERROR_CODES } from '../../api/error-codes.ts';
import { apiFixture } from './api-fixture.ts';
import { expectErrorShape } from './api-helpers.ts';

type Fixture = Awaited<ReturnType<typeof apiFixture>>;
let f: Fixture;

beforeAll(async () => {
  f = await apiFixture();
});
afterAll(async () => {
  await f.close();
});

type Mistake = {
  readonly what: string;
  readonly method?: HTTPMethods;
  readonly url: string;
  /** A raw body (sent as it is), or undefined for none. */
  readonly body?: string;
  readonly headers?: Record<string, string>;
  readonly key?: 'ingest' | 'read' | 'admin' | 'none';
  readonly status: number;
  readonly code: string;
  /** Every one of these must be in the message: the cause, and what was expected instead. */
  readonly names: readonly string[];
};

const JSON_TYPE = { 'content-type': 'application/json' };
const upload = { type: 'track', name: 'upload-completed', user_id: 'u1' };
const entry = (fields: Record<string, unknown>) => JSON.stringify({ ...upload, ...fields });
const message = (fields: Record<string, unknown>) =>
  JSON.stringify({
    id: 'upload-ready',
    channel: 'push',
    state: 'draft',
    trigger: { event: 'upload-completed' },
    template: { body: 'ready' },
    ...fields,
  });

/** What newcomers get wrong first, and what each answer must tell them. */
const MISTAKES: readonly Mistake[] = [
  {
    what: 'a misspelled key ("userid" for "user_id")',
    url: '/v1/events',
    body: '{"type":"track","name":"upload-completed","userid":"u1"}',
    status: 400,
    code: 'invalid_request',
    names: ['user_id: required', 'unknown key "userid"', 'did you mean "user_id"?'],
  },
  {
    what: 'a misspelled key in a message ("frequncy")',
    url: '/v1/messages',
    key: 'admin',
    body: message({ frequncy: { min_interval: '1h' } }),
    status: 400,
    code: 'invalid_request',
    names: ['unknown key "frequncy"', 'did you mean "frequency"?'],
  },
  {
    what: 'a value of the wrong type',
    url: '/v1/events',
    body: entry({ name: 5 }),
    status: 400,
    code: 'invalid_request',
    names: ['name: expected a string, got 5'],
  },
  {
    what: 'a missing field',
    url: '/v1/events',
    body: JSON.stringify({ type: 'track', user_id: 'u1' }),
    status: 400,
    code: 'invalid_request',
    names: ['name: required'],
  },
  {
    what: 'a missing entry type',
    url: '/v1/events',
    body: JSON.stringify({ name: 'x', user_id: 'u1' }),
    status: 400,
    code: 'invalid_request',
    names: ['type: required', '"track" or "identify"'],
  },
  {
    what: 'a nested metadata value',
    url: '/v1/events',
    body: entry({ metadata: { file: { name: 'a.mp4' } } }),
    status: 400,
    code: 'invalid_request',
    names: ['metadata.file', 'nested objects are not allowed'],
  },
  {
    what: 'received_at sent by the client',
    url: '/v1/events',
    body: entry({ received_at: 1 }),
    status: 400,
    code: 'invalid_request',
    names: ['received_at', 'send created_at'],
  },
  {
    what: 'malformed JSON (a trailing comma)',
    url: '/v1/events',
    body: '{"type":"track",\n "name":"x",}',
    status: 400,
    code: 'invalid_json',
    names: ['not valid JSON', 'byte 29', 'line 2, column 13', 'expected a key in double quotes', '"}"'],
  },
  {
    what: 'JSON cut short',
    url: '/v1/events',
    body: '{"type":"track"',
    status: 400,
    code: 'invalid_json',
    names: ['byte 15', 'ends too early'],
  },
  {
    what: 'an empty body',
    url: '/v1/events',
    body: '',
    status: 400,
    code: 'invalid_json',
    names: ['empty', 'JSON object'],
  },
  {
    what: 'the wrong content type',
    url: '/v1/events',
    body: entry({}),
    headers: { 'content-type': 'text/plain' },
    status: 415,
    code: 'unsupported_media_type',
    names: ['"text/plain"', 'content-type: application/json'],
  },
  {
    what: 'no content type at all',
    url: '/v1/events',
    body: entry({}),
    headers: {},
    status: 415,
    code: 'unsupported_media_type',
    names: ['no content-type', 'content-type: application/json'],
  },
  {
    what: 'the wrong method',
    method: 'GET',
    url: '/v1/events',
    status: 405,
    code: 'method_not_allowed',
    names: ['GET is not allowed on /v1/events', 'use POST'],
  },
  {
    what: 'an unknown route (one letter off)',
    url: '/v1/event',
    body: entry({}),
    status: 404,
    code: 'not_found',
    names: ['no route POST /v1/event', 'did you mean POST /v1/events?'],
  },
  {
    what: 'an unknown route',
    method: 'GET',
    url: '/v2/stats',
    status: 404,
    code: 'not_found',
    names: ['no route GET /v2/stats', '/docs'],
  },
  {
    what: 'no API key',
    url: '/v1/events',
    key: 'none',
    body: entry({}),
    status: 401,
    code: 'unauthorized',
    names: ['an API key is required', 'Authorization: Bearer <key>'],
  },
  {
    what: 'a key without the scope',
    method: 'PUT',
    url: '/v1/caps',
    key: 'read',
    body: '{"caps":[]}',
    status: 403,
    code: 'forbidden',
    names: ['no "admin" scope', 'it has read'],
  },
  {
    what: 'a time the API cannot read',
    method: 'GET',
    url: '/v1/stats/summary?from=yesterday',
    key: 'read',
    status: 400,
    code: 'invalid_request',
    names: ['querystring.from', '"yesterday"', 'ISO 8601'],
  },
  {
    what: 'a misspelled query parameter',
    method: 'GET',
    url: '/v1/stats/summary?form=2026-11-30',
    key: 'read',
    status: 400,
    code: 'invalid_request',
    names: ['unknown key "form"', 'did you mean "from"?'],
  },
  {
    what: 'a duration written in words',
    url: '/v1/messages',
    key: 'admin',
    body: message({ frequency: { min_interval: '1 hour' } }),
    status: 400,
    code: 'invalid_request',
    names: ['frequency.min_interval', 'invalid duration "1 hour"', 'a number and a unit', 'such as "15m"'],
  },
];

describe('the classic mistakes: each answer names its cause and what was expected', () => {
  it.each(MISTAKES)('$what', async (mistake) => {
    const key = mistake.key ?? 'ingest';
    const response = await f.app.inject({
      method: mistake.method ?? 'POST',
      url: mistake.url,
      headers: {
        ...(mistake.body === undefined ? {} : (mistake.headers ?? JSON_TYPE)),
        ...(key === 'none' ? {} : { authorization: `Bearer ${f.keys[key]}` }),
      },
      ...(mistake.body === undefined ? {} : { payload: mistake.body }),
    });
    const error = expectErrorShape(response, mistake.status);
    expect(error.code).toBe(mistake.code);
    for (const part of mistake.names) expect(error.message).toContain(part);
  });

  it('uses only codes of the registry, each with the status the registry gives it', () => {
    for (const mistake of MISTAKES) {
      const registered = (ERROR_CODES as Record<string, { status: number } | undefined>)[mistake.code];
      expect(registered?.status, mistake.code).toBe(mistake.status);
    }
  });
});

describe('the error codes are documented', () => {
  it("README's table of error codes lists every code of the registry, with its status, and no other", async () => {
    const readme = await readFile(new URL('../../README.md', import.meta.url), 'utf8');
    const table = readme.slice(
      readme.indexOf('<!-- error-codes -->'),
      readme.indexOf('<!-- /error-codes -->'),
    );
    const rows = [...table.matchAll(/^\| `([a-z_]+)` +\| (\d{3}) /gm)].map((m) => [m[1], Number(m[2])]);
    expect(rows).toEqual(Object.entries(ERROR_CODES).map(([code, { status }]) => [code, status]));
  });
});
