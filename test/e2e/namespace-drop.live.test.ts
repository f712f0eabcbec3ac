import { spawn, spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { ClickHouseLogLevel, createClient } from '@clickhouse/client';
import { Redis } from 'ioredis';
import { afterAll, describe, it } from 'vitest';
import { migrateAudit } from '../../pipeline/adapters/clickhouse/audit-schema.ts';
import { ident, sql } from '../../pipeline/adapters/clickhouse/sql.ts';
import { ensureCatalogStream } from '../../pipeline/adapters/nats/catalog-stream.ts';
import { connectNats } from '../../pipeline/adapters/nats/connect-nats.ts';
import { ensureLogStream } from '../../pipeline/adapters/nats/log-stream.ts';
import { streamInfo } from '../../pipeline/adapters/nats/stream-info.ts';
import { loadConfig } from '../../pipeline/config/load-config.ts';
import { Namespace } from '../../pipeline/namespace.ts';

const root = new URL('../..', import.meta.url).pathname;
const bin = join(root, 'bin/nudge.js');
const config = loadConfig(process.env);
const nc = await connectNats(config.natsUrl, 'namespace drop test');
const jsm = await nc.jetstreamManager();
const redis = new Redis(config.redisUrl);
const clickhouse = createClient({ url: config.clickhouseUrl, log: { level: ClickHouseLogLevel.OFF } });
const made: Namespace[] = [];
// The terminal cases need a pseudo-terminal, which util-linux's `script` provides.
const hasScript = spawnSync('script', ['--version']).status === 0;

afterAll(async () => {
  // Cleaned here, not by the command under test, so a failing drop leaves nothing behind either.
  for (const ns of made) {
    for (const stream of ns.streams) await jsm.streams.delete(stream).catch(() => false);
    const keys = await redis.keys(`${ns.name}:*`);
    if (keys.length > 0) await redis.del(...keys);
    await clickhouse.command({ query: sql`DROP DATABASE IF EXISTS ${ident(ns.database)}`.text });
  }
  await redis.quit();
  await nc.drain();
  await clickhouse.close();
});

const fresh = (name = `t_${randomUUID().replaceAll('-', '').slice(0, 20)}`) => {
  const ns = new Namespace(name);
  made.push(ns);
  return ns;
};

/**
 * A namespace with what a running pipeline leaves: log and catalog streams, a user's state, the
 * API keys, the audit database; and `<ns>x`, whose names all start with the first's.
 */
async function seeded(): Promise<{ ns: Namespace; sibling: Namespace }> {
  const ns = fresh();
  const sibling = fresh(`${ns.name}x`);
  await ensureLogStream(jsm, ns, 2);
  await ensureCatalogStream(jsm, ns);
  await redis.set(ns.redisKey(1, 'user', 'u1'), '{}');
  await redis.hset(`${ns.name}:api_keys`, 'k1', '{}');
  await migrateAudit(clickhouse, ns.database);
  await ensureLogStream(jsm, sibling, 2);
  await redis.set(sibling.redisKey(1, 'user', 'u1'), '{}');
  await clickhouse.command({ query: sql`CREATE DATABASE IF NOT EXISTS ${ident(sibling.database)}`.text });
  return { ns, sibling };
}

type Left = { streams: string[]; keys: string[]; database: boolean };

async function left(ns: Namespace): Promise<Left> {
  const streams = [];
  for (const name of ns.streams) if ((await streamInfo(jsm, name)) !== undefined) streams.push(name);
  const result = await clickhouse.query({
    query: sql`SELECT count() AS n FROM system.databases WHERE name = ${ns.database}`.text,
    format: 'JSONEachRow',
  });
  const [row] = await result.json<{ n: string }>();
  return {
    streams,
    keys: (await redis.keys(`${ns.name}:*`)).sort(),
    database: Number(row?.n ?? 0) > 0,
  };
}

const seededLeft = (ns: Namespace): Left => ({
  streams: [ns.logStream, ns.catalogStream],
  keys: [`${ns.name}:api_keys`, ns.redisKey(1, 'user', 'u1')].sort(),
  database: true,
});
const siblingLeft = (ns: Namespace): Left => ({
  streams: [ns.logStream],
  keys: [ns.redisKey(1, 'user', 'u1')],
  database: true,
});

type Result = { code: number | null; stdout: string; stderr: string };

/** `nudge …` with stdin a pipe (never a terminal): `input` is written to it, then it is closed. */
function nudge(args: string[], options: { input?: string; env?: NodeJS.ProcessEnv } = {}): Promise<Result> {
  const child = spawn(process.execPath, [bin, ...args], { cwd: root, env: options.env ?? process.env });
  child.stdin.end(options.input ?? '');
  return finished(child);
}

/**
 * `nudge namespace drop <name>` on a pseudo-terminal, answering the question with `answer` once it
 * is asked. The terminal echoes and merges stderr into stdout.
 */
function nudgeOnTerminal(name: string, answer: string): Promise<Result> {
  const command = [process.execPath, bin, 'namespace', 'drop', name].map((a) => `'${a}'`).join(' ');
  const child = spawn('script', ['-qec', command, '/dev/null'], { cwd: root });
  let shown = '';
  child.stdout.on('data', (chunk: Buffer) => {
    if (child.stdin.writableEnded) return;
    // Accumulated: the question may arrive split across chunks.
    shown += chunk.toString();
    if (shown.includes('Type its name to confirm')) child.stdin.end(`${answer}\n`);
  });
  return finished(child);
}

function finished(child: ReturnType<typeof spawn>): Promise<Result> {
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => {
      resolve({ code, stdout, stderr });
    });
  });
}

// Each case has namespaces of its own, so they run side by side: the CLI's start-up (tsx, about a
// second of CPU a spawn) is most of the time, so the cases spawn as few as they can.
describe.concurrent('nudge namespace drop', { timeout: 30_000 }, () => {
  it('--yes removes the streams, keys and database, and nothing of <ns>x', async ({ expect }) => {
    const { ns, sibling } = await seeded();
    const result = await nudge(['namespace', 'drop', ns.name, '--yes']);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout.split('\n')).toEqual([
      `removed JetStream stream ${ns.logStream}`,
      `removed JetStream stream ${ns.catalogStream}`,
      `removed 2 Redis keys matching ${ns.name}:*`,
      `removed ClickHouse database ${ns.database}`,
      `namespace ${ns.name} dropped: 2 streams, 2 Redis keys, 1 database`,
      '',
    ]);
    expect(await left(ns)).toEqual({ streams: [], keys: [], database: false });
    expect(await left(sibling)).toEqual(siblingLeft(sibling));
  });

  it('without --yes and stdin not a terminal: lists what it would remove, exit 1, nothing removed', async ({
    expect,
  }) => {
    const { ns, sibling } = await seeded();
    const result = await nudge(['namespace', 'drop', ns.name], { input: `${sibling.name}\n` });
    expect(result.code).toBe(1);
    expect(result.stdout).toContain(`JetStream stream ${ns.logStream}`);
    expect(result.stdout).toContain(`JetStream stream ${ns.catalogStream}`);
    expect(result.stdout).toContain(`2 Redis keys matching ${ns.name}:*`);
    expect(result.stdout).toContain(`ClickHouse database ${ns.database}`);
    expect(result.stderr).toContain('nothing was removed');
    expect(result.stderr).toContain('--yes skips the question');
    expect(await left(ns)).toEqual(seededLeft(ns));
  });

  it.skipIf(!hasScript)(
    'on a terminal, another name aborts and the name itself drops',
    async ({ expect }) => {
      const { ns, sibling } = await seeded();
      const wrong = await nudgeOnTerminal(ns.name, sibling.name);
      expect(wrong.stdout).toContain(`Drop namespace ${ns.name}? Type its name to confirm: `);
      expect(wrong.stdout).toContain('nothing was removed');
      expect(wrong.code).toBe(1);
      expect(await left(ns)).toEqual(seededLeft(ns));

      const right = await nudgeOnTerminal(ns.name, ns.name);
      expect(right.stdout).toContain(`namespace ${ns.name} dropped: 2 streams, 2 Redis keys, 1 database`);
      expect(right.code).toBe(0);
      expect(await left(ns)).toEqual({ streams: [], keys: [], database: false });
      expect(await left(sibling)).toEqual(siblingLeft(sibling));
    },
  );

  it('a namespace with nothing in it: says so, exit 0', async ({ expect }) => {
    const ns = fresh();
    const result = await nudge(['namespace', 'drop', ns.name]);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`namespace ${ns.name} has nothing to remove`);
  });

  it('a service that does not answer is named, and nothing is removed', async ({ expect }) => {
    const { ns } = await seeded();
    const result = await nudge(['namespace', 'drop', ns.name, '--yes'], {
      env: { ...process.env, NUDGE_REDIS_URL: 'redis://127.0.0.1:1' },
    });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('Redis at redis://127.0.0.1:1');
    expect(result.stderr).toContain('did not answer');
    expect(result.stderr).toContain('nothing was removed');
    expect(await left(ns)).toEqual(seededLeft(ns));
  });

  it('an invalid name: exit 2 with the usage, before any service is asked', async ({ expect }) => {
    const env = { ...process.env, NUDGE_NATS_URL: 'nats://127.0.0.1:1' };
    const result = await nudge(['namespace', 'drop', 'nudge-2', '--yes'], { env });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('"nudge-2" is not a namespace');
    expect(result.stderr).toContain('namespace drop <name> [--yes]');
  });
});
