import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiFixture, NOW } from './api-fixture.ts';

let api: Awaited<ReturnType<typeof apiFixture>>;
beforeAll(async () => {
  api = await apiFixture();
});
afterAll(async () => {
  await api.close();
});

const draft = {
  id: 'upload-ready',
  channel: 'push',
  state: 'draft',
  trigger: { event: 'upload_completed' },
  frequency: { min_interval: '1h' },
  template: { body: 'Your file {{ metadata.file_name }} is ready' },
};

async function call(method: 'GET' | 'POST' | 'PUT' | 'DELETE', url: string, payload?: unknown) {
  const response = await api.app.inject({
    method,
    url,
    headers: { authorization: `Bearer ${api.keys.admin}` },
    ...(payload === undefined ? {} : { payload: payload as object }),
  });
  return {
    status: response.statusCode,
    body: response.body === '' ? null : (JSON.parse(response.body) as Record<string, unknown>),
  };
}

describe('messages over HTTP, in the catalog nudge messages apply uses', () => {
  it('creates version 1, refuses to create it twice, and reads it back with durations in ms', async () => {
    const created = await call('POST', '/v1/messages', draft);
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      change: 'created',
      message: { id: 'upload-ready', version: 1, state: 'draft', live_since: null },
    });
    expect((await call('POST', '/v1/messages', draft)).status).toBe(409);
    const read = await call('GET', '/v1/messages/upload-ready');
    expect(read.body).toMatchObject({
      message: { version: 1, frequency: { min_interval: 3_600_000, max_sends: null } },
    });
    expect((await call('GET', '/v1/messages/nope')).status).toBe(404);
  });

  it('launches (live_since now), pauses and stops, each a new version; an unchanged update stays', async () => {
    const launched = await call('POST', '/v1/messages/upload-ready/launch');
    expect(launched.body).toMatchObject({
      change: 'updated',
      message: { version: 2, state: 'live', live_since: NOW },
    });
    expect((await call('POST', '/v1/messages/upload-ready/launch')).body).toMatchObject({
      change: 'unchanged',
      message: { version: 2 },
    });
    expect((await call('POST', '/v1/messages/upload-ready/pause')).body).toMatchObject({
      message: { version: 3, state: 'paused', live_since: null },
    });
    const updated = await call('PUT', '/v1/messages/upload-ready', { ...draft, state: 'live', priority: 2 });
    expect(updated.body).toMatchObject({
      change: 'updated',
      message: { version: 4, state: 'live', priority: 2, live_since: NOW },
    });
    expect(
      (await call('PUT', '/v1/messages/upload-ready', { ...draft, state: 'live', priority: 2 })).body,
    ).toMatchObject({
      change: 'unchanged',
      message: { version: 4 },
    });
    expect((await call('PUT', '/v1/messages/upload-ready', { ...draft, id: 'other' })).status).toBe(400);
    expect((await call('POST', '/v1/messages/upload-ready/stop')).body).toMatchObject({
      message: { version: 5, state: 'stopped' },
    });
    const versions = await call('GET', '/v1/messages/upload-ready/versions');
    expect(
      (versions.body?.['versions'] as { version: number; state: string }[]).map(
        (v) => `${v.version} ${v.state}`,
      ),
    ).toEqual(['1 draft', '2 live', '3 paused', '4 live', '5 stopped']);
  });

  it('deletes a draft, and only a draft', async () => {
    expect((await call('DELETE', '/v1/messages/upload-ready')).status).toBe(409);
    await call('POST', '/v1/messages', { ...draft, id: 'scratch' });
    expect((await call('DELETE', '/v1/messages/scratch')).status).toBe(204);
    expect((await call('GET', '/v1/messages/scratch')).status).toBe(404);
    const list = await call('GET', '/v1/messages');
    expect((list.body?.['messages'] as { id: string }[]).map((m) => m.id)).toEqual(['upload-ready']);
  });

  it('validates without storing, with the errors the CLI gives', async () => {
    const bad = {
      ...draft,
      id: 'never-stored',
      trigger: { event: 'x', where: { field: 'metadata.a', op: 'gtt', value: 1 } },
    };
    const answer = await call('POST', '/v1/messages/validate', bad);
    expect(answer.status).toBe(400);
    expect(answer.body).toMatchObject({
      error: {
        code: 'invalid_message',
        details: [expect.stringMatching(/^trigger\.where\.op: unknown op "gtt"/)],
      },
    });
    expect(
      (await call('POST', '/v1/messages/validate', { ...draft, id: 'never-stored' })).body,
    ).toMatchObject({ valid: true });
    expect((await call('GET', '/v1/messages/never-stored')).status).toBe(404);
    const created = await call('POST', '/v1/messages', bad);
    expect(created.status).toBe(400);
    expect(JSON.stringify(created.body)).toContain('trigger.where.op: unknown op \\"gtt\\"');
  });

  it('reads and replaces the global caps', async () => {
    expect((await call('GET', '/v1/caps')).body).toEqual({ caps: [] });
    expect((await call('PUT', '/v1/caps', { caps: [{ max: 3, per: '1d' }] })).body).toEqual({
      change: 'updated',
      caps: [{ max: 3, per: 86_400_000 }],
    });
    expect((await call('PUT', '/v1/caps', { caps: [{ max: 3, per: '1d' }] })).body).toMatchObject({
      change: 'unchanged',
    });
    expect((await call('PUT', '/v1/caps', { caps: [{ max: -1, per: '1d' }] })).status).toBe(400);
  });
});
