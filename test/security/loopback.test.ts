import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, readdir, readFile, readlink, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { runApi } from '../../bin/api-command.ts';
import { clickhouseServerConfig, clickhouseUsersConfig } from '../../bin/services/clickhouse-config.ts';
import { servicesDown, servicesUp } from '../../bin/services/local-services.ts';
import { connectNats } from '../../pipeline/adapters/nats/connect-nats.ts';
import { catalogStream } from '../../pipeline/adapters/nats/catalog-stream.ts';
import { loadConfig } from '../../pipeline/config/load-config.ts';
import { Namespace } from '../../pipeline/namespace.ts';

/**
 * What the project listens on, and what it starts, is bound to loopback only: the API's default
 * host, the ClickHouse configuration it writes, the NATS and Redis servers `nudge services up`
 * starts (started here on spare ports, in a temporary folder, and stopped by their recorded pids),
 * and, live, the ClickHouse the project started for this machine (`.data/clickhouse`). NATS and
 * Redis on 4222 and 6379 were started by the machine, not by the project: their sockets are
 * reported, not asserted.
 */

type Listening = { readonly address: string; readonly port: number; readonly inode: string };

/** Listening TCP sockets from /proc/net/tcp and tcp6, addresses written the usual way. */
async function listening(): Promise<Listening[]> {
  const out: Listening[] = [];
  for (const [file, v6] of [
    ['/proc/net/tcp', false],
    ['/proc/net/tcp6', true],
  ] as const) {
    const text = await readFile(file, 'utf8').catch(() => '');
    for (const line of text.split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/);
      const [local, , state] = fields.slice(1, 4);
      if (state !== '0A' || local === undefined) continue; // 0A: LISTEN
      const [hexAddress = '', hexPort = ''] = local.split(':');
      out.push({
        address: v6 ? ipv6(hexAddress) : ipv4(hexAddress),
        port: parseInt(hexPort, 16),
        inode: fields[9] ?? '',
      });
    }
  }
  return out;
}

/** The kernel writes an IPv4 address as one little-endian word. */
const ipv4 = (hex: string) => [6, 4, 2, 0].map((i) => parseInt(hex.slice(i, i + 2), 16)).join('.');

/** …and an IPv6 address as four little-endian words. */
function ipv6(hex: string): string {
  const words = [0, 8, 16, 24].map((i) => {
    const word = hex.slice(i, i + 8);
    return [6, 4, 2, 0].map((j) => word.slice(j, j + 2)).join('');
  });
  const groups = words.join('').match(/.{4}/g) ?? [];
  const text = groups.map((g) => parseInt(g, 16).toString(16)).join(':');
  return text.replace(/(^|:)0(:0)+(:|$)/, '::');
}

/** The sockets a process holds open, by inode (root may read any process's; others only their own). */
async function socketsOf(pid: number): Promise<Set<string>> {
  const inodes = new Set<string>();
  const fds = await readdir(`/proc/${pid}/fd`).catch(() => []);
  for (const fd of fds) {
    const target = await readlink(`/proc/${pid}/fd/${fd}`).catch(() => '');
    const match = /^socket:\[(\d+)\]$/.exec(target);
    if (match?.[1] !== undefined) inodes.add(match[1]);
  }
  return inodes;
}

/** Where a process listens: its own sockets when they can be read, else any socket on its ports. */
async function listensOf(pid: number, ports: readonly number[]): Promise<Listening[]> {
  const mine = await socketsOf(pid);
  const all = await listening();
  return mine.size > 0 ? all.filter((s) => mine.has(s.inode)) : all.filter((s) => ports.includes(s.port));
}

const commandLine = async (pid: number) =>
  (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\u0000').filter((arg) => arg !== '');

function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => {
        if (address !== null && typeof address === 'object') resolvePort(address.port);
        else reject(new Error('no port'));
      });
    });
  });
}

const xmlValues = (xml: string, tag: string) =>
  [...xml.matchAll(new RegExp(`<${tag}>([^<]*)</${tag}>`, 'g'))].map((m) => (m[1] ?? '').trim());

describe('the API', { timeout: 30_000 }, () => {
  it('listens on 127.0.0.1 by default', () => {
    expect(loadConfig({}).apiHost).toBe('127.0.0.1');
  });

  it('started as `nudge api` with the default host, has its one listening socket on 127.0.0.1', async () => {
    const namespace = `t_${randomUUID().replaceAll('-', '').slice(0, 20)}`;
    // The services of this environment, and the API's host left to its default.
    const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => name !== 'NUDGE_API_HOST'));
    const config = loadConfig({ ...env, NUDGE_API_PORT: '0', NUDGE_NAMESPACE: namespace });
    const stop = new AbortController();
    let announced: (line: string) => void = () => undefined;
    const listeningLine = new Promise<string>((resolveLine) => {
      announced = resolveLine;
    });
    const running = runApi(config, stop.signal, (line) => {
      if (line.startsWith('listening on ')) announced(line);
    });
    try {
      const line = await Promise.race([listeningLine, running.then(() => 'stopped before listening')]);
      const port = Number(/:(\d+) /.exec(line)?.[1]);
      expect(line).toMatch(/^listening on http:\/\/127\.0\.0\.1:\d+ /);
      const sockets = (await listensOf(process.pid, [port])).filter((s) => s.port === port);
      expect(sockets.map((s) => s.address)).toEqual(['127.0.0.1']);
    } finally {
      stop.abort();
      await running;
      // `nudge api` made the namespace's streams: this test's to remove.
      const nc = await connectNats(config.natsUrl, 'loopback test');
      const jsm = await nc.jetstreamManager();
      const ns = new Namespace(namespace);
      for (const stream of [ns.logStream, catalogStream(ns)])
        await jsm.streams.delete(stream).catch(() => false);
      await nc.drain();
    }
  }, 30_000);
});

describe('the ClickHouse configuration the project writes', { timeout: 5_000 }, () => {
  it('listens on 127.0.0.1 only, and its one user is reachable from loopback only', () => {
    const server = clickhouseServerConfig('/data', 8123, 9000);
    expect(xmlValues(server, 'listen_host')).toEqual(['127.0.0.1']);
    expect(server).not.toMatch(/0\.0\.0\.0|::(?!1)|<listen_try>|<interserver_http_port>/);
    const users = clickhouseUsersConfig();
    expect(xmlValues(users, 'ip')).toEqual(['127.0.0.1', '::1']);
    expect(users).not.toMatch(/<host>|<host_regexp>|0\.0\.0\.0|::\/0/);
  });
});

describe('the NATS and Redis servers `nudge services up` starts', () => {
  const started: { dataDir?: string; config?: ReturnType<typeof loadConfig> } = {};
  afterAll(async () => {
    if (started.config !== undefined) await servicesDown(started.config, () => undefined);
    if (started.dataDir !== undefined) await rm(started.dataDir, { recursive: true, force: true });
  }, 60_000);

  it('bind 127.0.0.1 only: the command lines say so, and so do their listening sockets', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'nudge-loopback-'));
    const [natsPort, redisPort] = [await freePort(), await freePort()];
    const config = loadConfig({
      NUDGE_NATS_URL: `nats://127.0.0.1:${natsPort}`,
      NUDGE_REDIS_URL: `redis://127.0.0.1:${redisPort}`,
      NUDGE_DATA_DIR: dataDir,
    });
    Object.assign(started, { dataDir, config });
    const lines: string[] = [];
    await servicesUp(config, (line) => lines.push(line), ['nats', 'redis']);
    for (const [service, port, bind] of [
      ['nats', natsPort, ['-a', '127.0.0.1']],
      ['redis', redisPort, ['--bind', '127.0.0.1']],
    ] as const) {
      const pidFile = join(dataDir, service, 'nudge.pid');
      expect(existsSync(pidFile), `${service} was not started by us: ${lines.join('; ')}`).toBe(true);
      const pid = Number(await readFile(pidFile, 'utf8'));
      if (service === 'nats') {
        const args = await commandLine(pid);
        const at = args.indexOf(bind[0]);
        expect(args.slice(at, at + 2), args.join(' ')).toEqual([...bind]);
        // No second listen option that could widen it.
        expect(args.filter((a) => ['-a', '--addr', '--net'].includes(a))).toEqual([bind[0]]);
      } else {
        // Redis rewrites its command line as its title: ask the server what it binds instead.
        const redis = new Redis(config.redisUrl, { lazyConnect: true });
        await redis.connect();
        try {
          expect(await redis.config('GET', 'bind')).toEqual(['bind', bind[1]]);
          expect(await redis.config('GET', 'protected-mode')).toEqual(['protected-mode', 'yes']);
        } finally {
          await redis.quit();
        }
      }
      const sockets = await listensOf(pid, [port]);
      expect(sockets.length, service).toBeGreaterThan(0);
      expect(
        sockets.map((s) => `${s.address}:${s.port}`),
        service,
      ).toEqual(sockets.map(() => `127.0.0.1:${port}`));
    }
  }, 60_000);
});

describe('the ClickHouse the project started on this machine', { timeout: 10_000 }, () => {
  const config = loadConfig(process.env);
  const dir = join(resolve(config.dataDir), 'clickhouse');
  const pidFile = join(dir, 'nudge.pid');
  // Read when the file is collected: `it.skipIf` needs it before any test runs.
  const pid = existsSync(pidFile) ? Number(readFileSync(pidFile, 'utf8')) : NaN;
  const running = Number.isInteger(pid) && existsSync(`/proc/${pid}`);

  it.skipIf(!running)(
    'runs with the configuration the project wrote, which listens on 127.0.0.1 only',
    async () => {
      const args = await commandLine(pid);
      const file = args.find((a) => a.startsWith('--config-file='))?.slice('--config-file='.length);
      expect(file).toBe(join(dir, 'config.xml'));
      const xml = await readFile(file ?? '', 'utf8');
      expect(xmlValues(xml, 'listen_host')).toEqual(['127.0.0.1']);
    },
  );

  it.skipIf(!running)(
    'has its HTTP (8123) and native (9000) sockets, and every other, on 127.0.0.1',
    async () => {
      const xml = await readFile(join(dir, 'config.xml'), 'utf8');
      const ports = [...xmlValues(xml, 'http_port'), ...xmlValues(xml, 'tcp_port')].map(Number);
      expect(ports).toEqual([8123, 9000]);
      const sockets = await listensOf(pid, ports);
      expect(sockets.map((s) => s.port).sort((a, b) => a - b)).toEqual(expect.arrayContaining(ports));
      expect(sockets.filter((s) => s.address !== '127.0.0.1')).toEqual([]);
    },
  );

  it('NATS (4222) and Redis (6379), which the machine started: bindings reported, not asserted', async () => {
    const all = await listening();
    const seen = [4222, 6379].map(
      (port) =>
        `${port}: ${
          all
            .filter((s) => s.port === port)
            .map((s) => s.address)
            .join(', ') || 'none'
        }`,
    );
    console.info(`machine-started services listen on ${seen.join('; ')}`);
    // What is reported is read from the kernel's table, which must have the services this suite talks to.
    expect(all.some((s) => s.port === 4222)).toBe(true);
  });
});
