import type { ChildProcess } from 'node:child_process';
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { ClickHouseLogLevel, createClient } from '@clickhouse/client';
import { Redis } from 'ioredis';
import { connectNats } from '../../pipeline/adapters/nats/connect-nats.ts';
import {
  applyCaps,
  applyMessages,
  ensureCatalogStream,
  readCatalog,
} from '../../pipeline/adapters/nats/catalog-stream.ts';
import { ensureLogStream } from '../../pipeline/adapters/nats/log-stream.ts';
import { MessageListSchema } from '../../pipeline/core/message-schema.ts';
import { Namespace } from '../../pipeline/namespace.ts';
import { seededRandom, workloadCaps, workloadMessages } from '../../bench/core/workload.ts';
import { ChaosStack, kill } from './chaos-stack.ts';
import { HttpProber } from './http-prober.ts';
import { CHAOS_EVENTS, CHAOS_MESSAGES, LoadGenerator } from './load-generator.ts';
import type { RunServices, Verdict } from './run-checker.ts';
import { checkRun, settle } from './run-checker.ts';

export type Length = 'short' | 'full';

const root = new URL('../..', import.meta.url).pathname;
const run = promisify(execFile);

/** What a scenario did to the run, for the report. */
export type Faults = { readonly injected: number; readonly what: string; readonly notes: string[] };

export type ScenarioResult = {
  /** The HTTP client's answers by status, when the scenario had one. */
  readonly http?: {
    readonly statuses: Record<string, number>;
    readonly batches: number;
    readonly retries: number;
  };
  readonly scenario: string;
  readonly length: Length;
  readonly seconds: number;
  readonly faults: Faults;
  /** From the end of the load (and of the faults) until everything was decided and stored. */
  readonly settleMs: number;
  readonly verdict: Verdict;
};

type Run = {
  readonly stack: ChaosStack;
  readonly load: LoadGenerator;
  readonly random: () => number;
  readonly seconds: number;
  readonly services: RunServices;
  readonly matchers: ChildProcess[];
  /** Starts another `nudge start`, tracked for the end of the run. */
  startMatcher(): ChildProcess;
};

type Scenario = {
  readonly name: string;
  readonly summary: string;
  readonly seconds: Record<Length, number>;
  readonly matchers: number;
  readonly retryShare?: number;
  /** Also a client of the HTTP API through the faults (`HttpProber`). */
  readonly http?: boolean;
  /** Runs while the load flows; returns what it injected. */
  readonly faults: (run: Run, length: Length) => Promise<Faults>;
};

/** Waits `ms`, in pieces, so a scenario's schedule stays seeded. */
const wait = (ms: number) => sleep(ms);

export const SCENARIOS: readonly Scenario[] = [
  {
    name: 'matcher-kill',
    summary: 'the matcher SIGKILLed at random points and started again',
    seconds: { short: 30, full: 240 },
    matchers: 1,
    faults: async (run, length) => {
      const kills = length === 'short' ? 4 : 20;
      const gap = (run.seconds * 1000 * 0.8) / kills;
      for (let i = 0; i < kills; i++) {
        await wait(gap * (0.5 + run.random()));
        const victim = run.matchers.shift();
        if (victim !== undefined) await kill(victim);
        run.startMatcher();
      }
      return { injected: kills, what: 'SIGKILL of the matcher, restarted at once', notes: [] };
    },
  },
  {
    name: 'matcher-pause',
    summary: 'two matchers; one SIGSTOPped past its lease, then resumed',
    seconds: { short: 30, full: 180 },
    matchers: 2,
    faults: async (run, length) => {
      const pauses = length === 'short' ? 1 : 4;
      for (let i = 0; i < pauses; i++) {
        await wait(4_000 + 2_000 * run.random());
        const paused = run.matchers[i % run.matchers.length];
        paused?.kill('SIGSTOP');
        // Past its heartbeat (5 s) and its leases (3 s): the other takes its partitions over.
        await wait(9_000);
        paused?.kill('SIGCONT');
      }
      // The matchers print their counts every 5 s: the paused one's last line says what it was refused.
      await wait(6_000);
      const notes: string[] = [];
      for (let i = 0; i < 2; i++) {
        const log = await readFile(join(run.stack.dir, `matcher-${i}.log`), 'utf8').catch(() => '');
        const refused = [...log.matchAll(/(\d+) batches refused \(fenced\)/g)].at(-1)?.[1] ?? '0';
        notes.push(`matcher ${i}: ${refused} batches refused (fenced)`);
      }
      return {
        injected: pauses,
        what: 'SIGSTOP of one matcher for 9 s (leases 3 s, membership 5 s), then SIGCONT',
        notes,
      };
    },
  },
  {
    name: 'redis-restart',
    summary:
      'Redis stopped with SIGTERM, then with SIGKILL, under load, and started again from its append-only file',
    seconds: { short: 30, full: 180 },
    matchers: 1,
    faults: async (run) => {
      await wait(6_000);
      await run.stack.outage('redis', 'SIGTERM', 3_000);
      await wait(6_000);
      await run.stack.outage('redis', 'SIGKILL', 3_000);
      return { injected: 2, what: 'Redis SIGTERM, 3 s down; Redis SIGKILL, 3 s down', notes: [] };
    },
  },
  {
    name: 'redis-wipe',
    summary: 'Redis loses everything under load: the matchers rebuild the states from ClickHouse and go on',
    seconds: { short: 35, full: 180 },
    matchers: 2,
    faults: async (run) => {
      await wait(12_000);
      await run.stack.wipe('redis');
      return { injected: 1, what: 'Redis SIGKILLed, its data removed, started empty', notes: [] };
    },
  },
  {
    name: 'clickhouse-outage',
    summary: 'ClickHouse stopped under load: decisions go on, the writers catch up after it is back',
    seconds: { short: 40, full: 300 },
    matchers: 1,
    faults: async (run, length) => {
      await wait(5_000);
      const down = length === 'short' ? 20_000 : 180_000;
      await run.stack.outage('clickhouse', 'SIGTERM', down);
      return { injected: 1, what: `ClickHouse stopped (SIGTERM) for ${down / 1000} s`, notes: [] };
    },
  },
  {
    name: 'nats-restart',
    summary:
      'nats-server restarted under load: appends fail while it is down and are tried again with the same ids',
    seconds: { short: 30, full: 180 },
    matchers: 1,
    http: true,
    faults: async (run, length) => {
      const restarts = length === 'short' ? 1 : 3;
      for (let i = 0; i < restarts; i++) {
        await wait(6_000);
        // Longer than a publish waits for its acknowledgement (5 s): appends fail, and are tried again.
        await run.stack.outage('nats', i % 2 === 0 ? 'SIGTERM' : 'SIGKILL', 8_000);
      }
      return {
        injected: restarts,
        what: 'nats-server stopped (SIGTERM, then SIGKILL), 8 s down',
        notes: [`appends refused and tried again: ${run.load.counts.failedAppends}`],
      };
    },
  },
  {
    name: 'poison',
    summary: 'lines that are no entries published straight into the log, among the traffic',
    seconds: { short: 20, full: 120 },
    matchers: 1,
    faults: async (run, length) => {
      const nc = await connectNats(run.stack.config.natsUrl, 'chaos poison');
      const js = nc.jetstream();
      const bad = [
        '{"type":"track"',
        'not json',
        '{"type":"track","id":"x","user_id":"u1","name":"e","received_at":"soon"}',
        '[1,2]',
      ];
      const count = length === 'short' ? 40 : 400;
      for (let i = 0; i < count; i++) {
        await wait((run.seconds * 800) / count);
        const partition = i % run.stack.config.partitions;
        const body =
          i % 5 === 0
            ? new Uint8Array([0xff, 0xfe, 0x00])
            : new TextEncoder().encode(bad[i % bad.length] ?? '');
        await js.publish(run.services.ns.logSubject(partition), body);
      }
      return {
        injected: count,
        what: 'malformed log messages (bad JSON, broken contract, not UTF-8)',
        notes: [],
      };
    },
  },
  {
    name: 'retries',
    summary:
      'a publisher sending acknowledged entries again with the same ids, inside the duplicate window and stamped anew',
    seconds: { short: 20, full: 180 },
    matchers: 1,
    retryShare: 0.1,
    faults: async (run) => {
      await wait(run.seconds * 1000);
      return {
        injected: run.load.counts.retriedIds,
        what: 'entries sent again with an id already acknowledged',
        notes: [],
      };
    },
  },
];

/** An ingest key made with `nudge keys create`, and a prober of the first matcher's API once it is ready. */
async function httpProber(
  stack: ChaosStack,
  users: number,
  acked: Map<string, { user_id: string; id: string }>,
): Promise<HttpProber> {
  const { stdout } = await run(
    process.execPath,
    [join(root, 'bin/nudge.js'), 'keys', 'create', '--scope', 'ingest', '--name', 'chaos'],
    {
      env: stack.env(),
      cwd: root,
    },
  );
  const base = `http://127.0.0.1:${stack.apiPort}`;
  const deadline = Date.now() + 60_000;
  while (
    !(await fetch(`${base}/readyz`).then(
      (r) => r.ok,
      () => false,
    ))
  ) {
    if (Date.now() > deadline) throw new Error(`the API at ${base} did not become ready`);
    await wait(250);
  }
  return new HttpProber(`${base}/v1/events`, stdout.trim(), users, acked);
}

/** Runs one scenario on a private stack and checks it (issue #6). */
export async function runScenario(
  name: string,
  length: Length,
  options: { basePort: number; rate: number; users: number; seed: number; report: (line: string) => void },
): Promise<ScenarioResult> {
  const scenario = SCENARIOS.find((s) => s.name === name);
  if (scenario === undefined)
    throw new Error(`no scenario ${name}: ${SCENARIOS.map((s) => s.name).join(', ')}`);
  const { report } = options;
  const stack = await ChaosStack.start(options.basePort);
  const { config } = stack;
  const ns = new Namespace(config.namespace);
  const nc = await connectNats(config.natsUrl, 'chaos');
  const clickhouse = createClient({
    url: config.clickhouseUrl,
    request_timeout: 600_000,
    clickhouse_settings: { send_progress_in_http_headers: 1, http_headers_progress_interval_ms: '60000' },
    log: { level: ClickHouseLogLevel.OFF },
  });
  const redis = new Redis(config.redisUrl, { maxRetriesPerRequest: null });
  // Redis goes down in some scenarios on purpose: ioredis reconnects, and says so on every try.
  redis.on('error', () => undefined);
  try {
    const [js, jsm] = [nc.jetstream(), await nc.jetstreamManager()];
    await ensureLogStream(jsm, ns, config.partitions);
    await ensureCatalogStream(jsm, ns);
    const size = { entries: 0, users: options.users, messages: CHAOS_MESSAGES, events: CHAOS_EVENTS };
    await applyMessages(js, jsm, ns, MessageListSchema.parse(workloadMessages(size)), Date.now() - 60_000);
    await applyCaps(js, jsm, ns, workloadCaps);
    const catalog = await readCatalog(jsm, ns);
    const services: RunServices = {
      ns,
      partitions: config.partitions,
      js,
      jsm,
      clickhouse,
      redis,
      messages: catalog.messages,
      caps: catalog.caps,
    };
    const matchers: ChildProcess[] = [];
    const startMatcher = () => {
      const child = stack.matcher();
      matchers.push(child);
      return child;
    };
    for (let i = 0; i < scenario.matchers; i++) startMatcher();
    const load = new LoadGenerator(nc, ns, config.partitions, {
      users: options.users,
      rate: options.rate,
      seed: options.seed,
      ...(scenario.retryShare === undefined ? {} : { retryShare: scenario.retryShare }),
    });
    const prober = scenario.http === true ? await httpProber(stack, options.users, load.acked) : undefined;
    const seconds = scenario.seconds[length];
    report(`${name} (${length}): ${scenario.summary}; ${options.rate} entries/s for ${seconds} s`);
    const started = Date.now();
    load.start();
    prober?.start();
    const faults = await Promise.all([
      scenario.faults(
        { stack, load, random: seededRandom(options.seed), seconds, services, matchers, startMatcher },
        length,
      ),
      wait(seconds * 1000),
    ]).then(([f]) => f);
    await Promise.all([load.stop(), prober?.stop()]);
    report(
      `${name}: load stopped after ${Math.round((Date.now() - started) / 1000)} s (${load.acked.size} entries acknowledged); settling…`,
    );
    const settleMs = await settle(services);
    report(`${name}: settled in ${settleMs} ms; checking…`);
    const verdict = await checkRun(services, load.acked);
    const http =
      prober === undefined
        ? {}
        : {
            http: {
              statuses: Object.fromEntries(prober.statuses),
              batches: prober.counts.batches,
              retries: prober.counts.retries,
            },
          };
    return { scenario: name, length, seconds, faults, settleMs, verdict, ...http };
  } finally {
    await nc.close().catch(() => undefined);
    redis.disconnect();
    await clickhouse.close();
    await stack.close();
  }
}
