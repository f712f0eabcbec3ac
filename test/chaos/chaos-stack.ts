import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { openSync } from 'node:fs';
import { cp, mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import type { Service, ServiceName } from '../../bin/services/local-services.ts';
import { ensureBinary, services } from '../../bin/services/local-services.ts';
import type { ClusterLayout } from '../../bin/services/cluster-services.ts';
import {
  clusterLayout,
  clusterNatsUrl,
  clusterRedisUrl,
  formRedisCluster,
  jetStreamAnswers,
  natsNodeArgs,
  redisClusterOk,
  redisNodeArgs,
} from '../../bin/services/cluster-services.ts';
import { acceptsConnections } from '../../bin/services/probe.ts';
import { waitUntil } from '../../bin/services/probe.ts';
import type { Config } from '../../pipeline/config/load-config.ts';
import { loadConfig } from '../../pipeline/config/load-config.ts';

const root = new URL('../..', import.meta.url).pathname;

/**
 * A private NATS, Redis and ClickHouse for one fault run, on ports of its own with data in a
 * temporary folder, started exactly as `nudge services up` starts them (same binaries, same
 * arguments: Redis with its append-only file, NATS with JetStream on disk), so that a scenario
 * can kill, stop and restart them without touching the machine's services or other tests.
 */
export class ChaosStack {
  readonly config: Config;
  /** The server processes by name: the services (`nats`, `clickhouse`) and the cluster's nodes (`nats-1`, `redis-4`). */
  private readonly running = new Map<string, ChildProcess>();
  private readonly matchers: ChildProcess[] = [];
  private readonly senders: ChildProcess[] = [];
  /** Each matcher's log file. */
  private readonly logs = new Map<ChildProcess, string>();

  /** The first matcher's API listens here (the others on ports of their own choosing). */
  readonly apiPort: number;

  private constructor(
    readonly dir: string,
    base: number,
    /** The clusters' ports (issue #21), or undefined for single servers. */
    readonly cluster: ClusterLayout | undefined,
  ) {
    this.apiPort = base + 4;
    this.single = {
      NUDGE_NATS_URL: `nats://127.0.0.1:${base}`,
      NUDGE_REDIS_URL: `redis://127.0.0.1:${base + 1}`,
      NUDGE_CLICKHOUSE_URL: `http://127.0.0.1:${base + 2}`,
    };
    this.config = loadConfig({
      ...process.env,
      ...this.single,
      ...(cluster === undefined
        ? {}
        : {
            NUDGE_NATS_URL: clusterNatsUrl(cluster),
            NUDGE_REDIS_URL: clusterRedisUrl(cluster),
            NUDGE_STREAM_REPLICAS: '3',
          }),
      NUDGE_NAMESPACE: 'chaos',
      NUDGE_PARTITIONS: '4',
      NUDGE_API_PORT: '0',
    });
  }

  /** The single servers' URLs (ClickHouse's is the stack's in both forms). */
  private readonly single: Record<string, string>;

  /**
   * Ports `base` to `base + 3` (ClickHouse's native port is its HTTP port + 1); clustered, the NATS
   * nodes on `base + 11…13` (routes `base + 21…23`) and the Redis nodes on `base + 31…36`, a master
   * silent for 2 s replaced by its replica.
   */
  static async start(base: number, clustered = false): Promise<ChaosStack> {
    const layout = clustered ? clusterLayout(base + 10, base + 20, base + 30, 2_000) : undefined;
    const stack = new ChaosStack(await mkdtemp(join(tmpdir(), 'nudge-chaos-')), base, layout);
    if (layout === undefined) {
      for (const name of ['nats', 'redis', 'clickhouse'] as const) await stack.up(name);
      return stack;
    }
    await stack.up('clickhouse');
    for (const node of [...layout.nats, ...layout.redis]) await stack.upNode(node.name);
    if (!(await waitUntil(() => jetStreamAnswers(clusterNatsUrl(layout)), 60_000)))
      throw new Error('the NATS cluster has no JetStream leader after 60 s');
    const redisCli = ensureBinary('redis-cli', 'redis-tools', () => undefined);
    formRedisCluster(redisCli, layout);
    if (!(await waitUntil(() => Promise.resolve(redisClusterOk(redisCli, layout)), 30_000)))
      throw new Error('the Redis cluster is not whole after 30 s');
    return stack;
  }

  /** Starts a cluster node (again) on its folder, and waits until it takes connections. */
  async upNode(name: string): Promise<void> {
    const layout = this.cluster;
    const nats = layout?.nats.find((n) => n.name === name);
    const redis = layout?.redis.find((n) => n.name === name);
    if (layout === undefined || (nats === undefined && redis === undefined))
      throw new Error(`no cluster node ${name}`);
    const dir = join(this.dir, name);
    await mkdir(join(dir, 'jetstream'), { recursive: true });
    const { binary, args, port } =
      nats !== undefined
        ? { binary: 'nats-server', args: natsNodeArgs(layout, nats, dir), port: nats.port }
        : redis !== undefined
          ? { binary: 'redis-server', args: redisNodeArgs(layout, redis, dir), port: redis.port }
          : { binary: '', args: [], port: 0 };
    await this.launch(name, binary, args, () => acceptsConnections('127.0.0.1', port), 20_000);
  }

  /** Runs a server in its folder, its output to `service.log` there, and waits until it answers. */
  private async launch(
    name: string,
    binary: string,
    args: readonly string[],
    reachable: () => Promise<boolean>,
    timeoutMs: number,
  ): Promise<void> {
    const dir = join(this.dir, name);
    const log = openSync(join(dir, 'service.log'), 'a');
    const child = spawn(binary, args, { stdio: ['ignore', log, log], cwd: dir });
    this.running.set(name, child);
    if (!(await waitUntil(reachable, timeoutMs)))
      throw new Error(`${name} did not come up (see ${dir}/service.log)`);
  }

  private service(name: ServiceName): Service {
    const service = services({
      ...this.config,
      natsUrl: this.single['NUDGE_NATS_URL'] ?? '',
      redisUrl: this.single['NUDGE_REDIS_URL'] ?? '',
    }).find((s) => s.name === name);
    if (service === undefined) throw new Error(`no service ${name}`);
    return service;
  }

  /** Starts a service (again) on its folder, and waits until it answers. */
  async up(name: ServiceName): Promise<void> {
    const service = this.service(name);
    const dir = join(this.dir, name);
    await mkdir(dir, { recursive: true });
    const args = await service.prepare(dir);
    await this.launch(name, service.binary, args, () => service.reachable(), service.startTimeoutMs);
  }

  /**
   * Stops a service or a cluster node with `signal` (SIGTERM: cleanly; SIGKILL: a crash) and waits
   * until it is gone.
   */
  async down(name: string, signal: NodeJS.Signals): Promise<void> {
    const child = this.running.get(name);
    if (child === undefined) return;
    this.running.delete(name);
    await kill(child, signal);
  }

  /** An outage: the service stopped with `signal`, down for `ms`, then started again on its data. */
  async outage(name: ServiceName, signal: NodeJS.Signals, ms: number): Promise<void> {
    await this.down(name, signal);
    await new Promise((resolve) => setTimeout(resolve, ms));
    await this.up(name);
  }

  /** Loses a service's data: stopped, its folder removed, started empty. */
  async wipe(name: ServiceName): Promise<void> {
    await this.down(name, 'SIGKILL');
    await rm(join(this.dir, name), { recursive: true, force: true });
    await this.up(name);
  }

  /** The environment of a `nudge` command on this stack. */
  env(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
    return {
      ...process.env,
      NUDGE_NATS_URL: this.config.natsUrl,
      NUDGE_REDIS_URL: this.config.redisUrl,
      NUDGE_CLICKHOUSE_URL: this.config.clickhouseUrl,
      NUDGE_NAMESPACE: this.config.namespace,
      NUDGE_PARTITIONS: String(this.config.partitions),
      NUDGE_STREAM_REPLICAS: String(this.config.streamReplicas),
      ...extra,
    };
  }

  /** A `nudge start` process (matcher, writers, releaser and API) on this stack; its output goes to a log file. */
  matcher(extraEnv: NodeJS.ProcessEnv = {}): ChildProcess {
    const path = join(this.dir, `matcher-${this.matchers.length}.log`);
    const log = openSync(path, 'a');
    const port = this.matchers.length === 0 ? String(this.apiPort) : '0';
    const env = this.env({ NUDGE_API_PORT: port, ...extraEnv });
    const child = spawn(process.execPath, [join(root, 'bin/nudge.js'), 'start'], {
      env,
      cwd: root,
      stdio: ['ignore', log, log],
    });
    this.matchers.push(child);
    this.logs.set(child, path);
    return child;
  }

  /**
   * Waits until a matcher of this stack runs: its log says it has loaded the rules (the first
   * thing its loop does). Throws when it exits first, or after `timeoutMs`.
   */
  async untilRunning(matcher: ChildProcess, timeoutMs: number): Promise<void> {
    const path = this.logs.get(matcher);
    if (path === undefined) throw new Error('not a matcher of this stack');
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (/^matcher: rules: /m.test(await readFile(path, 'utf8').catch(() => ''))) return;
      if (matcher.exitCode !== null || matcher.signalCode !== null)
        throw new Error(`the matcher logging to ${path} exited before it ran`);
      if (Date.now() > deadline)
        throw new Error(`the matcher logging to ${path} did not run within ${timeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  /** A `nudge send <channel> …` process on this stack; its output goes to `sender-<channel>.log`. */
  sender(args: readonly [string, ...string[]]): ChildProcess {
    const log = openSync(join(this.dir, `sender-${args[0]}.log`), 'a');
    const child = spawn(process.execPath, [join(root, 'bin/nudge.js'), 'send', ...args], {
      env: this.env(),
      cwd: root,
      stdio: ['ignore', log, log],
    });
    this.senders.push(child);
    return child;
  }

  /** Stops everything and removes the folder; the processes' logs are copied first to a folder of the run's under `NUDGE_CHAOS_LOGS`, when set. */
  async close(): Promise<void> {
    for (const child of [...this.matchers, ...this.senders]) child.kill('SIGKILL');
    for (const name of [...this.running.keys()]) await this.down(name, 'SIGKILL');
    const keep = process.env['NUDGE_CHAOS_LOGS'];
    if (keep !== undefined && keep !== '')
      // A folder a run (the stack's own name): the scenarios of `all` each keep theirs.
      await cp(this.dir, join(keep, basename(this.dir)), {
        recursive: true,
        filter: (path) =>
          !path.includes('/jetstream') && !/\/(redis(-\d)?|clickhouse)\/(?!service\.log)/.test(path),
      });
    await rm(this.dir, { recursive: true, force: true });
  }
}

/** Kills a process and waits for it to be gone. */
export async function kill(child: ChildProcess, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill(signal);
  await exited;
}
