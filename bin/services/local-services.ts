import { spawn, spawnSync } from 'node:child_process';
import { existsSync, openSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Config } from '../../pipeline/config/load-config.ts';
import { clickhouseServerConfig, clickhouseUsersConfig } from './clickhouse-config.ts';
import { acceptsConnections, answersHttp, waitUntil } from './probe.ts';

export type ServiceName = 'nats' | 'redis' | 'clickhouse';

export type Service = {
  readonly name: ServiceName;
  readonly url: string;
  /** The Debian package that provides `binary`. */
  readonly debianPackage: string;
  readonly binary: string;
  readonly startTimeoutMs: number;
  reachable(): Promise<boolean>;
  /** Writes what the service needs under its folder; returns its arguments. */
  prepare(dir: string): Promise<string[]>;
};

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|localhost|\[::1\])$/;

/** The three services as `services up` starts them: binaries, arguments, data folders, probes. */
export function services(config: Config): Service[] {
  // Several NATS URLs name a cluster's nodes (`services up --cluster` starts those): the first here.
  const natsUrl = config.natsUrl.split(',')[0] ?? config.natsUrl;
  const nats = new URL(natsUrl);
  const redis = new URL(config.redisUrl);
  const clickhouse = new URL(config.clickhouseUrl);
  const port = (url: URL, fallback: number) => (url.port === '' ? fallback : Number(url.port));
  return [
    {
      name: 'nats',
      url: natsUrl,
      debianPackage: 'nats-server',
      binary: 'nats-server',
      startTimeoutMs: 20_000,
      reachable: () => acceptsConnections(nats.hostname, port(nats, 4222)),
      prepare: async (dir) => {
        await mkdir(join(dir, 'jetstream'), { recursive: true });
        return natsServerArgs(port(nats, 4222), dir);
      },
    },
    {
      name: 'redis',
      url: config.redisUrl,
      debianPackage: 'redis-server',
      binary: 'redis-server',
      startTimeoutMs: 20_000,
      reachable: () => acceptsConnections(redis.hostname, port(redis, 6379)),
      prepare: async (dir) => {
        await mkdir(dir, { recursive: true });
        return redisServerArgs(port(redis, 6379), dir);
      },
    },
    {
      name: 'clickhouse',
      url: config.clickhouseUrl,
      debianPackage: 'clickhouse-server',
      binary: 'clickhouse-server',
      startTimeoutMs: 60_000,
      reachable: () => answersHttp(new URL('/ping', clickhouse).toString()),
      prepare: async (dir) => {
        const httpPort = port(clickhouse, 8123);
        for (const sub of ['data', 'tmp', 'user_files', 'format_schemas', 'log'])
          await mkdir(join(dir, sub), { recursive: true });
        await writeFile(
          join(dir, 'config.xml'),
          clickhouseServerConfig(dir, httpPort, httpPort === 8123 ? 9000 : httpPort + 1),
        );
        await writeFile(join(dir, 'users.xml'), clickhouseUsersConfig());
        return [`--config-file=${join(dir, 'config.xml')}`];
      },
    },
  ];
}

export type Report = (line: string) => void;

/** nats-server on loopback at `port` with JetStream, its store under `<dir>/jetstream`. */
export const natsServerArgs = (port: number, dir: string): string[] => [
  '-a',
  '127.0.0.1',
  '-p',
  String(port),
  '-js',
  '-sd',
  join(dir, 'jetstream'),
];

/** redis-server on loopback at `port`, as DESIGN §5 has it: an append-only file synced every second, and never evict state. */
export const redisServerArgs = (port: number, dir: string): string[] => [
  '--bind',
  '127.0.0.1',
  '--port',
  String(port),
  '--dir',
  dir,
  '--daemonize',
  'no',
  '--appendonly',
  'yes',
  '--appendfsync',
  'everysec',
  '--maxmemory-policy',
  'noeviction',
  '--save',
  '',
];

/**
 * Makes every service reachable at its configured URL (DESIGN §6): one that answers is used as
 * it is; otherwise its Debian package is installed when the binary is missing, and it is started
 * on loopback with its data under `<dataDir>/<service>`, its pid recorded so `down` stops only
 * what `up` started. Idempotent.
 */
export async function servicesUp(
  config: Config,
  report: Report,
  only?: readonly ServiceName[],
): Promise<void> {
  const root = resolve(config.dataDir);
  for (const service of services(config).filter((s) => only === undefined || only.includes(s.name))) {
    if (await service.reachable()) {
      report(`${service.name}: reachable at ${service.url}, using it`);
      continue;
    }
    const host = new URL(service.url).hostname;
    if (!LOOPBACK.test(host))
      throw new Error(
        `${service.name}: not reachable at ${service.url}, and not on this machine: start it there`,
      );
    const installed = findBinary(service.binary) === undefined;
    const binary = ensureBinary(service.binary, service.debianPackage, report);
    // A package may start its own server on install (invoke-rc.d): then it is reachable now.
    if (installed && (await service.reachable())) {
      report(`${service.name}: reachable at ${service.url} after the install, using it`);
      continue;
    }
    await start(service, binary, join(root, service.name), report);
  }
  // Tools beside the services: ClickHouse's command-line client (for analysts, and for the tests
  // that check the stats against it) and Chromium (for the dashboard's browser test).
  const tools = [
    { binary: 'clickhouse-client', debianPackage: 'clickhouse-client', for: 'clickhouse' },
    { binary: 'chromium', debianPackage: 'chromium', for: undefined },
  ] as const;
  for (const tool of tools) {
    if (only !== undefined && (tool.for === undefined || !only.includes(tool.for))) continue;
    if (findBinary(tool.binary) !== undefined) continue;
    ensureBinary(tool.binary, tool.debianPackage, report);
  }
}

let aptUpdated = false;

/** The path of `binary`, its Debian package installed first when it is missing. */
export function ensureBinary(binary: string, debianPackage: string, report: Report): string {
  const found = findBinary(binary);
  if (found !== undefined) return found;
  report(`${binary} not found, installing the Debian package ${debianPackage}`);
  if (!aptUpdated) apt(['update']);
  aptUpdated = true;
  apt(['install', '-y', '--no-install-recommends', debianPackage]);
  const installed = findBinary(binary);
  if (installed === undefined)
    throw new Error(`${binary} is still missing after installing ${debianPackage}`);
  return installed;
}

async function start(service: Service, binary: string, dir: string, report: Report): Promise<void> {
  await startProcess(service.name, binary, await service.prepare(dir), dir, report);
  if (!(await waitUntil(() => service.reachable(), service.startTimeoutMs))) {
    throw new Error(
      `${service.name}: started but not reachable at ${service.url} after ${service.startTimeoutMs / 1000} s; see ${join(dir, `${service.name}.log`)}`,
    );
  }
  report(`${service.name}: reachable at ${service.url}`);
}

/** Starts `binary` detached in `dir`, its output in `<dir>/<name>.log`, its pid recorded for `stopStarted`. */
export async function startProcess(
  name: string,
  binary: string,
  args: readonly string[],
  dir: string,
  report: Report,
): Promise<void> {
  const log = openSync(join(dir, `${name}.log`), 'a');
  const child = spawn(binary, args, { detached: true, stdio: ['ignore', log, log], cwd: dir });
  child.unref();
  if (child.pid === undefined) throw new Error(`${name}: could not start ${binary}`);
  await writeFile(pidFile(dir), String(child.pid));
  report(`${name}: starting ${binary} (pid ${child.pid}), data in ${dir}`);
}

/** Stops the services `servicesUp` started (and only those), waiting for each to exit. */
export async function servicesDown(config: Config, report: Report): Promise<void> {
  const root = resolve(config.dataDir);
  for (const service of services(config)) await stopStarted(service.name, join(root, service.name), report);
}

/** Stops the process `startProcess` started in `dir`, if it did; leaves anything else alone. */
export async function stopStarted(name: string, dir: string, report: Report): Promise<void> {
  const file = pidFile(dir);
  if (!existsSync(file)) {
    report(`${name}: not started by nudge, left alone`);
    return;
  }
  const pid = Number(await readFile(file, 'utf8'));
  if (isRunning(pid)) {
    process.kill(pid, 'SIGTERM');
    const stopped = await waitUntil(() => Promise.resolve(!isRunning(pid)), 20_000);
    if (!stopped) process.kill(pid, 'SIGKILL');
  }
  await rm(file);
  report(`${name}: stopped (pid ${pid})`);
}

const pidFile = (dir: string) => join(dir, 'nudge.pid');

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function findBinary(name: string): string | undefined {
  for (const dir of ['/usr/sbin', '/usr/bin', '/usr/local/sbin', '/usr/local/bin', '/sbin', '/bin']) {
    if (existsSync(join(dir, name))) return join(dir, name);
  }
  const found = spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' });
  return found.status === 0 && found.stdout.trim() !== '' ? found.stdout.trim() : undefined;
}

function apt(args: string[]): void {
  const result = spawnSync('apt-get', args, {
    stdio: ['ignore', 'inherit', 'inherit'],
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  });
  if (result.status !== 0)
    throw new Error(
      `apt-get ${args.join(' ')} failed (exit ${result.status ?? 'signal'}): root and Debian's package sources are needed`,
    );
}
