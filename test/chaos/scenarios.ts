import type { ChildProcess } from 'node:child_process';
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { ClickHouseLogLevel, createClient } from '@clickhouse/client';
import { connectRedis } from '../../pipeline/adapters/redis/connect-redis.ts';
import { connectNats } from '../../pipeline/adapters/nats/connect-nats.ts';
import {
  applyCaps,
  applyMessages,
  ensureCatalogStream,
  readCatalog,
} from '../../pipeline/adapters/nats/catalog-stream.ts';
import { ensureLogStream } from '../../pipeline/adapters/nats/log-stream.ts';
import type { MessageInput } from '../../pipeline/core/message-schema.ts';
import { MessageListSchema } from '../../pipeline/core/message-schema.ts';
import { namespaceOf } from '../../pipeline/config/load-config.ts';
import { eventName, seededRandom, workloadCaps, workloadMessages } from '../../bench/core/workload.ts';
import { ChaosStack, kill } from './chaos-stack.ts';
import { CLUSTER_SCENARIOS } from './cluster-scenarios.ts';
import { releaseBegun, releasedStillHeld } from './held-probe.ts';
import { HttpProber } from './http-prober.ts';
import { CHAOS_EVENTS, CHAOS_MESSAGES, LoadGenerator } from './load-generator.ts';
import type { RunServices, Verdict } from './run-checker.ts';
import { checkRun, settle } from './run-checker.ts';
import { WebhookReceiver } from './webhook-receiver.ts';

export type Length = 'short' | 'full';

export { CLUSTER_SCENARIOS };

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

export type Run = {
  readonly stack: ChaosStack;
  readonly load: LoadGenerator;
  readonly random: () => number;
  readonly seconds: number;
  readonly services: RunServices;
  readonly matchers: ChildProcess[];
  /** Starts another `nudge start`, tracked for the end of the run. */
  startMatcher(): ChildProcess;
  /** When the scenario's own messages' window opens (`Scenario.held`), ms. */
  readonly opening: number | undefined;
};

export type Scenario = {
  readonly name: string;
  readonly summary: string;
  /** How long the load runs; with `held`, how long it runs on after the window opened. */
  readonly seconds: Record<Length, number>;
  readonly matchers: number;
  readonly retryShare?: number;
  /** Also a client of the HTTP API through the faults (`HttpProber`). */
  readonly http?: boolean;
  /**
   * Messages of its own, added to the benchmark mix, held for a schedule window that opens during
   * the run: made from the clock when the run starts, with the instant the window opens. The run
   * then has a webhook sender to a receiver of its own, whose arrivals the checker matches with the
   * webhook sends (`matchArrivals`), once the held stream is empty and the sender has nothing pending.
   */
  readonly held?: (
    now: number,
    length: Length,
  ) => { readonly opening: number; readonly messages: readonly MessageInput[] };
  /** Runs while the load flows; returns what it injected. */
  readonly faults: (run: Run, length: Length) => Promise<Faults>;
};

/** Waits `ms`, in pieces, so a scenario's schedule stays seeded. */
const wait = (ms: number) => sleep(ms);

/** SIGKILLs the oldest matcher and starts another at once. */
async function killMatcher(run: Run): Promise<void> {
  const victim = run.matchers.shift();
  if (victim !== undefined) await kill(victim);
  run.startMatcher();
}

/** The held-sends window opens at least this long after the run starts: room for the faults of the hold. */
const HELD_LEAD_MS: Record<Length, number> = { short: 15_000, full: 60_000 };
/** And stays open this long, past the end of the load, so no entry is held for the next day's window. */
const HELD_WINDOW_MINUTES: Record<Length, number> = { short: 5, full: 10 };

/** The first whole minute at least `leadMs` after `now`: a schedule's times of day are whole minutes. */
export const openingAfter = (now: number, leadMs: number): number =>
  Math.ceil((now + leadMs) / 60_000) * 60_000;

/** `HH:MM` of an instant in UTC. */
const utcClock = (at: number): string => new Date(at).toISOString().slice(11, 16);

/**
 * Three webhook messages with `outside: "defer"`, open in UTC from `opening` for `minutes` (a window
 * across midnight is an overnight one, its `to` before its `from`): every entry before the opening
 * is decided for it. One sends once an hour, outside the caps; one counts toward the caps (5 a day:
 * a held send counts at the opening, against the sends before it); one sends twice at most, 30 s
 * apart, outside the caps, so a long run sends again after the opening.
 */
export function heldMessages(opening: number, minutes: number): MessageInput[] {
  const base = {
    channel: 'webhook',
    state: 'live',
    schedule: {
      timezone: 'UTC',
      from: utcClock(opening),
      to: utcClock(opening + minutes * 60_000),
      outside: 'defer',
    },
    template: { body: '{{ metadata.file_name }} is ready ({{ metadata.amount }})' },
  } as const;
  const over = (event: number, amount: number) => ({
    event: eventName(event),
    where: { field: 'metadata.amount', op: 'gt', value: amount },
  });
  return [
    {
      ...base,
      id: 'held-hourly',
      trigger: over(0, 850),
      frequency: { min_interval: '1h' },
      global_cap_exempt: true,
    },
    { ...base, id: 'held-capped', trigger: over(1, 850), frequency: { min_interval: '2m' } },
    {
      ...base,
      id: 'held-twice',
      trigger: over(2, 850),
      frequency: { min_interval: '30s', max_sends: 2 },
      global_cap_exempt: true,
    },
  ];
}

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
        await killMatcher(run);
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
  {
    name: 'held-sends',
    summary:
      'sends held for a schedule window that opens during the run, across a matcher SIGKILL and a NATS restart, and a SIGKILL as they are released',
    seconds: { short: 3, full: 60 },
    matchers: 1,
    held: (now, length) => {
      const opening = openingAfter(now, HELD_LEAD_MS[length]);
      return { opening, messages: heldMessages(opening, HELD_WINDOW_MINUTES[length]) };
    },
    faults: async (run, length) => {
      const started = Date.now();
      const opening = run.opening ?? started;
      const when = (at: number) => `${((at - opening) / 1000).toFixed(1)} s`;
      const notes = [
        `window opened ${new Date(opening).toISOString()}, ${((opening - started) / 1000).toFixed(1)} s after the load started`,
      ];
      const everyMatcher: ChildProcess[] = [...run.matchers];
      const restart = async () => {
        const victim = run.matchers.shift();
        if (victim !== undefined) await kill(victim);
        const next = run.startMatcher();
        everyMatcher.push(next);
        return next;
      };
      // While every send is held: the matcher SIGKILLed and started again, then, once the new one
      // runs, NATS down (the held stream, the releaser's consumer and its delays are on disk); the
      // long run again until 30 s before the opening.
      const holds = length === 'short' ? 1 : 3;
      for (let i = 0; i < holds && (i === 0 || Date.now() < opening - 30_000); i++) {
        await wait(1_000 + 1_000 * run.random());
        notes.push(`matcher SIGKILL at ${when(Date.now())}`);
        await run.stack.untilRunning(await restart(), 60_000);
        const signal = i % 2 === 0 ? 'SIGTERM' : 'SIGKILL';
        const down = length === 'short' ? 4_000 : 8_000;
        notes.push(`nats-server ${signal} at ${when(Date.now())}, ${down / 1000} s down`);
        await run.stack.outage('nats', signal, down);
      }
      // As the held sends are released: killed once the releaser acked its first, the rest of its
      // batch in flight. Those it published and did not ack come again to the restarted matcher
      // (after the consumer's ack wait) and are released again: the deliveries stream must drop them.
      await wait(Math.max(0, opening - Date.now()));
      const begun = await releaseBegun(run.services.jsm, run.services.ns, 10_000);
      const victim = run.matchers.shift();
      if (victim !== undefined) await kill(victim);
      const killedAt = Date.now();
      const { js, jsm, ns } = run.services;
      const still = await releasedStillHeld(js, jsm, ns, 'webhook');
      everyMatcher.push(run.startMatcher());
      notes.push(
        `matcher SIGKILL at ${when(killedAt)}${begun ? ', as the release began' : ''}: ${still.held} sends still held, ${still.released} of them already released`,
      );
      const injected = notes.length - 1;
      // A matcher that ended with no signal of ours died on its own (the run goes on without it).
      const died = everyMatcher.filter((m) => m.exitCode !== null).length;
      if (died > 0) notes.push(`${died} matchers exited on their own`);
      return {
        injected,
        what: 'SIGKILL of the matcher and nats-server restarts while sends are held, SIGKILL of the matcher as they are released',
        notes,
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
  options: {
    basePort: number;
    rate: number;
    users: number;
    seed: number;
    cluster?: boolean;
    report: (line: string) => void;
  },
): Promise<ScenarioResult> {
  const clustered = options.cluster === true;
  const list = clustered ? CLUSTER_SCENARIOS : SCENARIOS;
  const scenario = list.find((s) => s.name === name);
  if (scenario === undefined)
    throw new Error(
      `no scenario ${name}${clustered ? ' on the clusters' : ''}: ${list.map((s) => s.name).join(', ')}` +
        (clustered ? '' : ` (with --cluster: ${CLUSTER_SCENARIOS.map((s) => s.name).join(', ')})`),
    );
  const { report } = options;
  const stack = await ChaosStack.start(options.basePort, clustered);
  const { config } = stack;
  const ns = namespaceOf(config);
  const nc = await connectNats(config.natsUrl, 'chaos');
  const clickhouse = createClient({
    url: config.clickhouseUrl,
    request_timeout: 600_000,
    clickhouse_settings: { send_progress_in_http_headers: 1, http_headers_progress_interval_ms: '60000' },
    log: { level: ClickHouseLogLevel.OFF },
  });
  const redis = connectRedis(config.redisUrl, { maxRetriesPerRequest: null });
  // Redis goes down in some scenarios on purpose: ioredis reconnects, and says so on every try.
  redis.on('error', () => undefined);
  let receiver: WebhookReceiver | undefined;
  try {
    const [js, jsm] = [nc.jetstream(), await nc.jetstreamManager()];
    await ensureLogStream(jsm, ns, config.partitions);
    await ensureCatalogStream(jsm, ns);
    const size = { entries: 0, users: options.users, messages: CHAOS_MESSAGES, events: CHAOS_EVENTS };
    const held = scenario.held?.(Date.now(), length);
    const messages = [...workloadMessages(size), ...(held?.messages ?? [])];
    await applyMessages(js, jsm, ns, MessageListSchema.parse(messages), Date.now() - 60_000);
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
    receiver = held === undefined ? undefined : await WebhookReceiver.start();
    if (receiver !== undefined) stack.sender(['webhook', '--url', receiver.url]);
    const seconds =
      scenario.seconds[length] +
      (held === undefined ? 0 : Math.max(0, Math.ceil((held.opening - Date.now()) / 1000)));
    report(`${name} (${length}): ${scenario.summary}; ${options.rate} entries/s for ${seconds} s`);
    const started = Date.now();
    load.start();
    prober?.start();
    const faults = await Promise.all([
      scenario.faults(
        {
          stack,
          load,
          random: seededRandom(options.seed),
          seconds,
          services,
          matchers,
          startMatcher,
          opening: held?.opening,
        },
        length,
      ),
      wait(seconds * 1000),
    ]).then(([f]) => f);
    await Promise.all([load.stop(), prober?.stop()]);
    report(
      `${name}: load stopped after ${Math.round((Date.now() - started) / 1000)} s (${load.acked.size} entries acknowledged); settling…`,
    );
    const senders: [string, string][] =
      receiver === undefined ? [] : [[ns.deliveriesStream, 'sender_webhook']];
    const settleMs = await settle(services, 180_000, senders);
    report(`${name}: settled in ${settleMs} ms; checking…`);
    const verdict = await checkRun(
      services,
      load.acked,
      receiver === undefined ? undefined : { arrivals: receiver.arrivals, unanswered: receiver.unanswered },
    );
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
    await receiver?.close();
    await nc.close().catch(() => undefined);
    redis.disconnect();
    await clickhouse.close();
    await stack.close();
  }
}
