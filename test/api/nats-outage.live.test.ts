import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ClickHouseLogLevel, createClient } from '@clickhouse/client';
import type { FastifyInstance } from 'fastify';
import { Redis } from 'ioredis';
import type { NatsConnection } from 'nats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JetStreamKeyStore } from '../../pipeline/adapters/nats/jetstream-key-store.ts';
import { RedisKeyStore } from '../../pipeline/adapters/redis/redis-key-store.ts';
import { newApiKey } from '../../api/auth/api-keys.ts';
import { buildApi } from '../../api/app.ts';
import { apiPorts } from '../../bin/api-ports.ts';
import { connectNats } from '../../pipeline/adapters/nats/connect-nats.ts';
import { decodePack } from '../../pipeline/adapters/nats/packs.ts';
import { ensureLogStream } from '../../pipeline/adapters/nats/log-stream.ts';
import { loadConfig } from '../../pipeline/config/load-config.ts';
import { Namespace } from '../../pipeline/namespace.ts';
import { NudgeMetrics } from '../../pipeline/runtime/metrics.ts';

// A nats-server of this test's own (the shared one must stay up for the other tests), stopped
// under the API and started again on the same port and storage.
const config = loadConfig(process.env);
const ns = new Namespace(`t_${randomUUID().replaceAll('-', '').slice(0, 20)}`);
let port = 0;
let storage = '';
let server: ChildProcess | undefined;
let nc: NatsConnection;
let redis: Redis;
let app: FastifyInstance;
let key = '';
/** A valid key the API has never been asked about before the outage. */
let unseen = '';
const clickhouse = createClient({ url: config.clickhouseUrl, log: { level: ClickHouseLogLevel.OFF } });

async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const address = probe.address();
  await new Promise((resolve) => probe.close(resolve));
  return typeof address === 'object' && address !== null ? address.port : 0;
}

async function startNats(): Promise<void> {
  server = spawn('nats-server', ['-js', '-a', '127.0.0.1', '-p', String(port), '-sd', storage], {
    stdio: 'ignore',
  });
  const deadline = Date.now() + 10_000;
  for (;;) {
    const reachable = await connectNats(`nats://127.0.0.1:${port}`, 'probe').then(
      (probe) => probe.close().then(() => true),
      () => false,
    );
    if (reachable) return;
    if (Date.now() > deadline) throw new Error('nats-server did not start');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function stopNats(): Promise<void> {
  const stopping = server;
  if (stopping === undefined) return;
  server = undefined;
  stopping.kill('SIGKILL');
  await new Promise((resolve) => stopping.once('exit', resolve));
}

beforeAll(async () => {
  port = await freePort();
  storage = await mkdtemp(join(tmpdir(), 'nudge-nats-'));
  await startNats();
  nc = await connectNats(`nats://127.0.0.1:${port}`, 'api under test');
  await ensureLogStream(await nc.jetstreamManager(), ns, 2);
  redis = new Redis(config.redisUrl);
  // Where the API keeps its keys: on the NATS that goes down (README "What outlives a Redis loss").
  const keys = new JetStreamKeyStore(nc.jetstream({ timeout: 2_000 }), ns, new RedisKeyStore(redis, ns));
  const made = newApiKey();
  const other = newApiKey();
  for (const [id, hash] of [
    [made.id, made.hash],
    [other.id, other.hash],
  ] as const)
    await keys.put({ id, name: 'test', scopes: ['ingest'], hash, created_at: 0, revoked_at: null });
  unseen = other.key;
  key = made.key;
  const { rateLimitStore, ...ports } = apiPorts({
    nc,
    js: nc.jetstream({ timeout: 2_000 }),
    publishTimeoutMs: 2_000,
    jsm: await nc.jetstreamManager(),
    redis,
    clickhouse,
    ns,
    partitions: 2,
    now: () => 1_793_610_000_000,
  });
  app = await buildApi({
    ...ports,
    keys,
    clientSecrets: keys,
    clientOrigins: [],
    partitions: 2,
    now: () => 1_793_610_000_000,
    rateLimits: { store: rateLimitStore, perKeyPerMinute: 1_000_000, anonymousPerMinute: 1_000_000 },
    metrics: new NudgeMetrics(),
    ready: () => Promise.resolve({ nats: !nc.isClosed() }),
  });
}, 30_000);

afterAll(async () => {
  await app.close();
  await nc.close();
  await stopNats();
  await rm(storage, { recursive: true, force: true });
  const keys = await redis.keys(`${ns.name}:*`);
  if (keys.length > 0) await redis.del(...keys);
  await redis.quit();
  await clickhouse.close();
});

const post = (id: string, bearer = key) =>
  app.inject({
    method: 'POST',
    url: '/v1/events',
    headers: { authorization: `Bearer ${bearer}` },
    payload: { type: 'track', id, name: 'upload_completed', user_id: 'u1' },
  });

describe('the log (nats-server) down under the API', { timeout: 60_000 }, () => {
  it('answers 503 while it is down, never a 2xx, and a retry with the same id stores the entry once', async () => {
    expect((await post('before')).statusCode).toBe(202);
    await stopNats();
    // Past the 5 s a key's record is trusted from memory: the key store (on NATS) does not answer,
    // and the key checked before keeps its last record, so the answer is the log's 503, not a 500.
    await new Promise((resolve) => setTimeout(resolve, 5_500));
    const during = await post('during');
    expect(during.statusCode).toBe(503);
    expect(JSON.parse(during.body)).toMatchObject({ error: { code: 'log_unavailable' } });
    // A key never checked cannot be read: a 503 to retry, not a 401 (it is valid) nor a 500.
    const stranger = await post('stranger', unseen);
    expect(stranger.statusCode).toBe(503);
    expect(JSON.parse(stranger.body)).toMatchObject({ error: { code: 'keys_unavailable' } });
    await startNats();
    // The client reconnects on its own; the client's retry (same id) is then taken.
    let retried = await post('during');
    const deadline = Date.now() + 20_000;
    while (retried.statusCode !== 202 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 250));
      retried = await post('during');
    }
    expect(retried.statusCode).toBe(202);
    const jsm = await nc.jetstreamManager();
    const info = await jsm.streams.info(ns.logStream);
    const ids: string[] = [];
    for (let seq = info.state.first_seq; seq <= info.state.last_seq; seq++) {
      const message = await jsm.streams.getMessage(ns.logStream, { seq });
      ids.push(...decodePack(message.data, `seq ${seq}`).map((entry) => entry.id));
    }
    expect(ids.sort()).toEqual(['before', 'during']);
  });
});
