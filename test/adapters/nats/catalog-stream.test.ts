import { randomUUID } from 'node:crypto';
import { connect } from 'nats';
import type { JetStreamClient, JetStreamManager, NatsConnection } from 'nats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  applyCaps,
  applyMessages,
  catalogStream,
  ensureCatalogStream,
  messageVersions,
  readCatalog,
} from '../../../pipeline/adapters/nats/catalog-stream.ts';
import { loadConfig } from '../../../pipeline/config/load-config.ts';
import type { MessageInput } from '../../../pipeline/core/message-schema.ts';
import { MessageSchema } from '../../../pipeline/core/message-schema.ts';
import { Namespace } from '../../../pipeline/namespace.ts';

const ns = new Namespace(`t_${randomUUID().replaceAll('-', '').slice(0, 20)}`);
let nc: NatsConnection;
let js: JetStreamClient;
let jsm: JetStreamManager;

beforeAll(async () => {
  nc = await connect({ servers: loadConfig(process.env).natsUrl });
  [js, jsm] = [nc.jetstream(), await nc.jetstreamManager()];
  await ensureCatalogStream(jsm, ns);
});

afterAll(async () => {
  await jsm.streams.delete(catalogStream(ns)).catch(() => false);
  await nc.drain();
});

const message = (overrides: Partial<MessageInput> = {}) =>
  MessageSchema.parse({
    id: 'upload-ready',
    channel: 'push',
    state: 'live',
    trigger: { event: 'upload-completed' },
    template: { body: 'Ready' },
    ...overrides,
  });

describe('the message catalog on a real NATS JetStream', () => {
  it('creates, leaves alone what did not change, and versions what did, keeping every version', async () => {
    expect(await applyMessages(js, jsm, ns, [message()], 1_000)).toEqual([
      { id: 'upload-ready', change: 'created', version: 1 },
    ]);
    expect(await applyMessages(js, jsm, ns, [message()], 2_000)).toEqual([
      { id: 'upload-ready', change: 'unchanged', version: 1 },
    ]);
    const changed = message({ template: { body: 'Your upload is ready' } });
    expect(await applyMessages(js, jsm, ns, [changed], 3_000)).toEqual([
      { id: 'upload-ready', change: 'updated', version: 2 },
    ]);

    const versions = await messageVersions(js, ns, 'upload-ready');
    expect(versions.map((v) => [v.version, v.template.body, v.live_since])).toEqual([
      [1, 'Ready', 1_000],
      [2, 'Your upload is ready', 1_000], // still live: it keeps the time it went live
    ]);
  });

  it('keeps a live_since given in the file, and a relaunch after a pause goes live anew', async () => {
    const id = 'tip';
    await applyMessages(js, jsm, ns, [message({ id, live_since: 500 })], 1_000);
    await applyMessages(js, jsm, ns, [message({ id, state: 'paused' })], 2_000);
    await applyMessages(js, jsm, ns, [message({ id })], 3_000);
    expect((await messageVersions(js, ns, id)).map((v) => [v.state, v.live_since])).toEqual([
      ['live', 500],
      ['paused', null],
      ['live', 3_000],
    ]);
  });

  it('reads the latest version of every message and the caps in force', async () => {
    expect(await applyCaps(js, jsm, ns, [{ max: 3, per: 86_400_000 }])).toBe(true);
    expect(await applyCaps(js, jsm, ns, [{ max: 3, per: 86_400_000 }])).toBe(false);
    const catalog = await readCatalog(jsm, ns);
    expect(catalog.messages.map((m) => [m.id, m.version])).toEqual([
      ['tip', 3],
      ['upload-ready', 2],
    ]);
    expect(catalog.caps).toEqual([{ max: 3, per: 86_400_000 }]);
  });
});
