import { execFile, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { openSync } from 'node:fs';
import { readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ClickHouseLogLevel, createClient } from '@clickhouse/client';
import { Redis } from 'ioredis';
import type { NatsConnection } from 'nats';
import { connect } from 'nats';
import { afterAll, describe, expect, it } from 'vitest';
import { NdjsonLogFile } from '../../pipeline/adapters/file/ndjson-log-file.ts';
import { loadConfig } from '../../pipeline/config/load-config.ts';
import { Namespace } from '../../pipeline/namespace.ts';
import { awaitDecisions, expectedDecisions, storedDecisions, writeWorkloadFiles } from './workload-files.ts';

const root = new URL('../..', import.meta.url).pathname;
const config = loadConfig(process.env);
const run = promisify(execFile);
// Quiet: the polls below ask before the matcher has made the database, and the client logs each refusal.
const clickhouse = createClient({ url: config.clickhouseUrl, log: { level: ClickHouseLogLevel.OFF } });
const namespaces: Namespace[] = [];
const children: ChildProcess[] = [];
let nats: NatsConnection | undefined;
const manager = async () => (nats ??= await connect({ servers: config.natsUrl })).jetstreamManager();

afterAll(async () => {
  for (const child of children) child.kill('SIGKILL');
  const nc = await connect({ servers: config.natsUrl });
  const jsm = await nc.jetstreamManager();
  const redis = new Redis(config.redisUrl);
  for (const ns of namespaces) {
    for (const stream of ns.streams) {
      await jsm.streams.delete(stream).catch(() => false);
    }
    const keys = await redis.keys(`${ns.name}:*`);
    if (keys.length > 0) await redis.del(...keys);
    await clickhouse.command({ query: `DROP DATABASE IF EXISTS \`${ns.database}\`` });
  }
  await redis.quit();
  await nc.drain();
  await nats?.drain();
  await clickhouse.close();
});

/** A fresh namespace with a generated traffic mix written to files: messages, caps, log. */
async function scenario(entries: number) {
  const ns = new Namespace(`t_${randomUUID().replaceAll('-', '').slice(0, 20)}`);
  namespaces.push(ns);
  const size = { entries, users: Math.max(10, Math.floor(entries / 10)), messages: 40, events: 8 };
  const files = await writeWorkloadFiles('nudge-e2e-', size);
  // Port 0: each process's API on a free port, so several can run side by side.
  const env = { ...process.env, NUDGE_NAMESPACE: ns.name, NUDGE_PARTITIONS: '4', NUDGE_API_PORT: '0' };
  const nudge = (...args: string[]) =>
    run(process.execPath, [join(root, 'bin/nudge.js'), ...args], { env, cwd: root });
  return { ns, files, env, nudge };
}

function start(env: NodeJS.ProcessEnv, ...args: string[]): ChildProcess {
  const log = openSync(
    join(tmpdir(), `nudge-start-${env['NUDGE_NAMESPACE'] ?? ''}-${children.length}.log`),
    'w',
  );
  const child = spawn(process.execPath, [join(root, 'bin/nudge.js'), 'start', ...args], {
    env,
    cwd: root,
    stdio: ['ignore', log, log],
  });
  children.push(child);
  return child;
}

/** Polls ClickHouse until its `log_entries` hold `count` distinct entries. */
async function awaitEntries(ns: Namespace, count: number, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const stored = async () => {
    const result = await clickhouse.query({
      query: `SELECT uniqExact(partition, seq, position) AS n FROM \`${ns.database}\`.log_entries`,
      format: 'JSONEachRow',
    });
    return Number((await result.json<{ n: string }>())[0]?.n ?? 0);
  };
  while ((await stored().catch(() => 0)) < count && Date.now() < deadline)
    await new Promise((resolve) => setTimeout(resolve, 500));
}

// Processes start, die and take over by their own clocks (leases, heartbeats, redelivery): minutes, not seconds, at worst.
describe('nudge start, end to end over NATS, Redis and ClickHouse', { timeout: 180_000 }, () => {
  it('decisions in ClickHouse for an ingested file equal nudge replay, entry by entry', async () => {
    const { ns, files, env, nudge } = await scenario(3_000);
    await nudge('messages', 'apply', '--file', files.messages, '--caps', files.caps);
    start(env);
    await nudge('ingest', '--file', files.log, '--keep-time');
    const expected = await expectedDecisions(await manager(), ns, files.log);
    expect(expected.length).toBeGreaterThan(1_000);
    expect(await awaitDecisions(clickhouse, ns, expected.length)).toEqual(expected);
  });

  it('the same with the matcher killed (SIGKILL) in the middle and started again', async () => {
    const { ns, files, env, nudge } = await scenario(6_000);
    await nudge('messages', 'apply', '--file', files.messages, '--caps', files.caps);
    const first = start(env);
    const expected = await expectedDecisions(await manager(), ns, files.log);
    await nudge('ingest', '--file', files.log, '--keep-time');
    // Killed as soon as its first decisions are in the decisions stream: mid-batch, mid-write,
    // wherever it is, with most of the log still to decide.
    const nc = await connect({ servers: config.natsUrl });
    const jsm = await nc.jetstreamManager();
    const decided = async () =>
      (await jsm.streams.info(ns.decisionsStream).catch(() => undefined))?.state.messages ?? 0;
    const deadline = Date.now() + 30_000;
    while ((await decided()) === 0 && Date.now() < deadline)
      await new Promise((resolve) => setTimeout(resolve, 10));
    first.kill('SIGKILL');
    const atKill = (await storedDecisions(clickhouse, ns).catch(() => [])).length;
    await nc.drain();
    start(env);
    expect(atKill).toBeLessThan(expected.length);
    expect(await awaitDecisions(clickhouse, ns, expected.length)).toEqual(expected);
    // Replayed from ClickHouse, the window recorded with the kill in it comes out as it ran: from
    // the start of the log (no state before it), and from the middle (the state rebuilt there).
    const times: number[] = [];
    for await (const batch of new NdjsonLogFile(files.log).batches())
      times.push(...batch.map((e) => e.received_at));
    await awaitEntries(ns, times.length);
    times.sort((a, b) => a - b);
    const at = (share: number) => times[Math.floor(share * (times.length - 1))] ?? 0;
    for (const [from, to] of [
      [at(0), at(1) + 1],
      [at(0.4), at(0.8)],
    ] as const) {
      const { stdout } = await nudge('replay', '--from', String(from), '--to', String(to));
      const report = JSON.parse(stdout) as {
        identical: boolean;
        entries: number;
        differences: number;
        first_differences: unknown[];
      };
      expect(report.entries).toBeGreaterThan(100);
      expect(report.first_differences).toEqual([]);
      expect(report.identical).toBe(true);
    }
  });

  it('the same with the roles in processes of their own: matcher, audit, deliveries', async () => {
    const { ns, files, env, nudge } = await scenario(2_000);
    await nudge('messages', 'apply', '--file', files.messages, '--caps', files.caps);
    start(env, '--roles', 'matcher');
    start(env, '--roles', 'audit');
    start(env, '--roles', 'deliveries,api');
    await nudge('ingest', '--file', files.log, '--keep-time');
    const expected = await expectedDecisions(await manager(), ns, files.log);
    expect(await awaitDecisions(clickhouse, ns, expected.length)).toEqual(expected);
    // Only the matcher's process is a member: the others never get a partition.
    const redis = new Redis(config.redisUrl);
    expect(await redis.zrange(`${ns.name}:members`, 0, -1)).toHaveLength(1);
    await redis.quit();
    // Every send is forwarded by the deliveries' process, once (held ones wait on their own stream).
    const result = await clickhouse.query({
      query: `SELECT countIf(deliver_at IS NULL) AS now FROM \`${ns.database}\`.decisions FINAL WHERE outcome = 'sent'`,
      format: 'JSONEachRow',
    });
    const sends = Number((await result.json<{ now: string }>())[0]?.now ?? 0);
    expect(sends).toBeGreaterThan(0);
    const nc = await connect({ servers: config.natsUrl });
    const jsm = await nc.jetstreamManager();
    const forwarded = async () => (await jsm.streams.info(ns.deliveriesStream)).state.messages;
    const deadline = Date.now() + 30_000;
    while ((await forwarded()) < sends && Date.now() < deadline)
      await new Promise((resolve) => setTimeout(resolve, 250));
    expect(await forwarded()).toBe(sends);
    await nc.drain();
  });

  it('the same with two matcher processes splitting the partitions', async () => {
    const { ns, files, env, nudge } = await scenario(3_000);
    await nudge('messages', 'apply', '--file', files.messages, '--caps', files.caps);
    start(env);
    start(env);
    await nudge('ingest', '--file', files.log, '--keep-time');
    const expected = await expectedDecisions(await manager(), ns, files.log);
    expect(await awaitDecisions(clickhouse, ns, expected.length)).toEqual(expected);
    // Both processes are members, and the partitions' leases end up split between them (the first
    // to start holds them all until the second's heartbeat and the leases it gave up have expired).
    const redis = new Redis(config.redisUrl);
    const holders = () => Promise.all([0, 1, 2, 3].map((p) => redis.hget(ns.redisKey(p, 'lease'), 'holder')));
    // Every partition held, by two distinct processes, at one instant (a lease can be between
    // holders for a moment while a partition changes hands).
    const split = (held: (string | null)[]) => held.every((h) => h !== null) && new Set(held).size === 2;
    let held = await holders();
    const deadline = Date.now() + 30_000;
    while (!split(held) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 250));
      held = await holders();
    }
    expect(await redis.zrange(`${ns.name}:members`, 0, -1)).toHaveLength(2);
    expect(held.every((h) => h !== null)).toBe(true);
    expect(new Set(held).size).toBe(2);
    await redis.quit();
  });
});

describe('npm start (nudge quickstart)', { timeout: 120_000 }, () => {
  it('applies the demo messages, sends demo traffic, decides it into ClickHouse, and stops cleanly on SIGINT', async () => {
    const ns = new Namespace(`t_${randomUUID().replaceAll('-', '').slice(0, 20)}`);
    namespaces.push(ns);
    const env = { ...process.env, NUDGE_NAMESPACE: ns.name, NUDGE_API_PORT: '0' };
    let output = '';
    const child = spawn(process.execPath, [join(root, 'bin/nudge.js'), 'quickstart'], { env, cwd: root });
    children.push(child);
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const decided = await awaitDecisions(clickhouse, ns, 10);
    expect(decided.length).toBeGreaterThanOrEqual(10);
    expect(output).toContain('Where to look');
    // The API runs too: an entry posted with the printed key is decided like the demo's own.
    const key = /Bearer (nudge_\S+)'/.exec(output)?.[1] ?? '';
    const api = /api: listening on (http:\/\/\S+)/.exec(output)?.[1] ?? '';
    const response = await fetch(`${api}/v1/events`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        type: 'track',
        id: 'over-http',
        name: 'upload-completed',
        user_id: 'http-user',
        metadata: { file_name: 'a.pdf' },
      }),
    });
    expect(response.status).toBe(202);
    const deadline = Date.now() + 60_000;
    while (
      Date.now() < deadline &&
      !(await storedDecisions(clickhouse, ns)).some((d) => d.split(' ')[0]?.endsWith(':over-http'))
    )
      await new Promise((resolve) => setTimeout(resolve, 500));
    expect((await storedDecisions(clickhouse, ns)).some((d) => d.split(' ')[0]?.endsWith(':over-http'))).toBe(
      true,
    );
    // An upload on the demo page's URL by a user with an address brings a mail, kept as an .eml file.
    const mailed = await fetch(`${api}/v1/events`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        events: [
          { type: 'identify', user_id: 'mail-user', attributes: { email: 'mail-user@example.com' } },
          {
            type: 'track',
            name: 'upload-completed',
            user_id: 'mail-user',
            metadata: { file_name: 'mailed.pdf' },
            context: { url: 'http://127.0.0.1/demo' },
          },
        ],
      }),
    });
    expect(mailed.status).toBe(202);
    const mailDir = join(root, '.data', 'mail', ns.name);
    expect(output).toContain(`.data/mail/${ns.name}/`);
    const mails = async () =>
      Promise.all(
        (await readdir(mailDir).catch(() => [])).map((file) => readFile(join(mailDir, file), 'utf8')),
      );
    // As long as the decision above may take: on a loaded machine the mail sender's first pull can
    // come well after the matcher's first decisions (CI saw more than 30 s once).
    const mailBy = Date.now() + 60_000;
    while (!(await mails()).some((mail) => mail.includes('To: mail-user@example.com')) && Date.now() < mailBy)
      await new Promise((resolve) => setTimeout(resolve, 500));
    const [mail] = (await mails()).filter((text) => text.includes('To: mail-user@example.com'));
    expect(mail).toContain('Subject: mailed.pdf is ready to share');
    await rm(mailDir, { recursive: true, force: true });
    child.kill('SIGINT');
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect(code).toBe(0);
    expect(output).toMatch(/demo: stopped after \d+ entries/);
  });
});

describe('npm start under a process manager', { timeout: 120_000 }, () => {
  it('stops everything it started on a SIGTERM sent to npm alone', async () => {
    const ns = new Namespace(`t_${randomUUID().replaceAll('-', '').slice(0, 20)}`);
    namespaces.push(ns);
    const env = { ...process.env, NUDGE_NAMESPACE: ns.name, NUDGE_API_PORT: '0' };
    let output = '';
    // Not detached and no group signal: a process manager signals the top process only.
    const npm = spawn('npm', ['start'], { env, cwd: root });
    children.push(npm);
    npm.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const deadline = Date.now() + 90_000;
    while (!output.includes('demo: Ctrl-C stops.') && Date.now() < deadline)
      await new Promise((resolve) => setTimeout(resolve, 200));
    expect(output).toContain('demo: Ctrl-C stops.');
    const api = /api: listening on (http:\/\/\S+)/.exec(output)?.[1] ?? '';
    expect((await fetch(`${api}/healthz`)).status).toBe(200);
    const { stdout } = await run('pgrep', ['-P', String(npm.pid)]);
    const started = stdout
      .split('\n')
      .filter((line) => line !== '')
      .map(Number);
    expect(started.length).toBeGreaterThan(0);
    npm.kill('SIGTERM');
    await new Promise((resolve) => npm.once('exit', resolve));
    const alive = (pid: number) => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    };
    const until = Date.now() + 20_000;
    while (started.some(alive) && Date.now() < until)
      await new Promise((resolve) => setTimeout(resolve, 200));
    expect(started.filter(alive)).toEqual([]);
    await expect(fetch(`${api}/healthz`)).rejects.toThrow();
    expect(output).toMatch(/demo: stopped after \d+ entries/);
  });
});
