// `npm run bench:pipeline [-- --entries N --users N --matchers N --roles-apart --latency-seconds S]`: the live
// pipeline end to end (published → decided → states committed → every entry and decision row in
// ClickHouse, counted there) against a raw JetStream loop measured in the same run, then the
// latency from publish to decision at half the sustained rate. Needs the services (npm run services).
import type { ChildProcess } from 'node:child_process';
import { execFile, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { parseArgs, promisify } from 'node:util';
import { createClient } from '@clickhouse/client';
import {
  applyCaps,
  applyMessages,
  ensureCatalogStream,
} from '../../pipeline/adapters/nats/catalog-stream.ts';
import { ensureLogStream, LogPublisher } from '../../pipeline/adapters/nats/log-stream.ts';
import { loadConfig } from '../../pipeline/config/load-config.ts';
import { compileCaps } from '../../pipeline/core/caps.ts';
import type { LogEntry } from '../../pipeline/core/log-entry.ts';
import { MessageListSchema } from '../../pipeline/core/message-schema.ts';
import { buildRuleIndex } from '../../pipeline/core/rule-index.ts';
import { Namespace } from '../../pipeline/namespace.ts';
import { parseEntry } from '../../pipeline/parse-entry.ts';
import type { LineSink } from '../../pipeline/ports/line-sink.ts';
import { Replayer } from '../../pipeline/replay/replayer.ts';
import { seededRandom, workloadCaps, workloadMessages, writeWorkloadLog } from '../core/workload.ts';
import { connectNats } from '../../pipeline/adapters/nats/connect-nats.ts';

const { values } = parseArgs({
  options: {
    entries: { type: 'string', default: '300000' },
    users: { type: 'string', default: '30000' },
    /** Event names in the traffic; the 100 messages trigger on the first 100 (so 1000 means a tenth of the track entries trigger one). */
    events: { type: 'string', default: '100' },
    matchers: { type: 'string', default: '1' },
    /** The matcher, the audit writers and the deliveries each in processes of their own (`nudge start --roles`). */
    'roles-apart': { type: 'boolean', default: false },
    'latency-seconds': { type: 'string', default: '10' },
    /** Writes a CPU profile of each matcher process to bench/out/profile/. */
    profile: { type: 'boolean', default: false },
  },
});
const rolesApart = values['roles-apart'];
const size = {
  entries: Number(values.entries),
  users: Number(values.users),
  messages: 100,
  events: Number(values.events),
};
const matchers = Number(values.matchers);
const config = loadConfig(process.env);
const partitions = config.partitions;
const profileArgs = values.profile
  ? ['--cpu-prof', `--cpu-prof-dir=${new URL('../out/profile/', import.meta.url).pathname}`]
  : [];
const log = (line: string) => process.stderr.write(`bench: ${line}\n`);

/** The workload's lines, parsed as the log's readers parse them. */
async function workloadEntries(entries: number, seed: number): Promise<LogEntry[]> {
  const parsed: LogEntry[] = [];
  const sink: LineSink = {
    writeLine: (line) => void parsed.push(parseEntry(line, () => 'workload')),
    flush: () => Promise.resolve(),
    close: () => Promise.resolve(),
  };
  await writeWorkloadLog({ ...size, entries }, sink, seededRandom(seed));
  return parsed;
}

log(
  `generating ${size.entries} entries over ${size.users} users, ${size.messages} messages on ${size.events} events…`,
);
const entries = await workloadEntries(size.entries, 11);
const messages = MessageListSchema.parse(workloadMessages(size));
const replayer = new Replayer(buildRuleIndex(messages), compileCaps(workloadCaps));
for (const entry of entries) replayer.apply(entry);
const expected = replayer.summary.decisions;
log(`nudge replay gives ${expected} decisions for them`);

const nc = await connectNats(config.natsUrl, 'bench publisher');
const [js, jsm] = [nc.jetstream(), await nc.jetstreamManager()];
const clickhouse = createClient({ url: config.clickhouseUrl });
const freshNamespace = (kind: string) =>
  new Namespace(`bench_${kind}_${randomUUID().replaceAll('-', '').slice(0, 12)}`, {
    streamReplicas: config.streamReplicas,
  });

/** Lines of a child's stdout, each to a listener; the child's lines also go to stderr, prefixed. */
function lines(
  child: ChildProcess,
  prefix: string,
): { next: (test: (line: string) => boolean) => Promise<string> } {
  const waiting: { test: (line: string) => boolean; resolve: (line: string) => void }[] = [];
  if (child.stdout === null) throw new Error('no stdout');
  createInterface({ input: child.stdout }).on('line', (line) => {
    process.stderr.write(`${prefix}: ${line}\n`);
    const i = waiting.findIndex((w) => w.test(line));
    if (i >= 0) waiting.splice(i, 1)[0]?.resolve(line);
  });
  return { next: (test) => new Promise((resolve) => waiting.push({ test, resolve })) };
}

async function publishAll(ns: Namespace, list: readonly LogEntry[]): Promise<void> {
  const publisher = new LogPublisher(js, ns, partitions);
  for (let i = 0; i < list.length; i += 1_000) await publisher.publish(list.slice(i, i + 1_000));
  await publisher.flush();
}

/** Everything of the namespace, by `nudge namespace drop` (which finds the keys on every master of a Redis Cluster). */
async function removeNamespace(ns: Namespace): Promise<void> {
  await promisify(execFile)(
    process.execPath,
    [new URL('../../bin/nudge.js', import.meta.url).pathname, 'namespace', 'drop', ns.name, '--yes'],
    { env: process.env },
  );
}

type Run = { elapsed_ms: number; published_ms: number; entries_per_s: number };

/** The baseline: the same payloads published with the same publisher, read by every partition's log source in another process. */
async function rawLoop(): Promise<Run> {
  const ns = freshNamespace('raw');
  await ensureLogStream(jsm, ns, partitions);
  const consumer = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      new URL('raw-consumer.ts', import.meta.url).pathname,
      ns.name,
      String(partitions),
      String(entries.length),
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const out = lines(consumer, 'raw consumer');
  await out.next((line) => line === 'ready');
  const start = performance.now();
  await publishAll(ns, entries);
  const published = performance.now();
  await out.next((line) => line.startsWith('done'));
  const elapsed = performance.now() - start;
  await removeNamespace(ns);
  return run(elapsed, published - start);
}

const run = (elapsed: number, published: number): Run => ({
  elapsed_ms: Math.round(elapsed),
  published_ms: Math.round(published),
  entries_per_s: Math.round(entries.length / (elapsed / 1000)),
});

async function count(query: string): Promise<number> {
  const rows = await (await clickhouse.query({ query, format: 'JSONEachRow' })).json<{ n: string }>();
  return Number(rows[0]?.n ?? 0);
}

type Latency = { rate: number; decisions: number; p50_ms: number; p99_ms: number; max_ms: number };

/** The pipeline: `nudge start` processes; the clock stops when ClickHouse holds every entry and every decision. */
async function pipeline(rate: () => number): Promise<{ sustained: Run; latency: Latency }> {
  const ns = freshNamespace('live');
  await ensureCatalogStream(jsm, ns);
  await applyMessages(js, jsm, ns, messages, Date.now());
  await applyCaps(js, jsm, ns, workloadCaps);
  const env = { ...process.env, NUDGE_NAMESPACE: ns.name };
  // One `nudge start` per matcher; with --roles-apart, the matchers' role alone, beside one process
  // for the audit writers and one for the deliveries.
  const processes: { label: string; args: string[] }[] = [
    ...Array.from({ length: matchers }, (_, i) => ({
      label: `matcher ${i + 1}`,
      args: rolesApart ? ['--roles', 'matcher'] : [],
    })),
    ...(rolesApart
      ? [
          { label: 'audit', args: ['--roles', 'audit'] },
          { label: 'deliveries', args: ['--roles', 'deliveries'] },
        ]
      : []),
  ];
  const children = processes.map(({ args }) =>
    spawn(
      process.execPath,
      [...profileArgs, new URL('../../bin/nudge.js', import.meta.url).pathname, 'start', ...args],
      {
        env,
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    ),
  );
  try {
    await Promise.all(
      children.map((child, i) =>
        lines(child, processes[i]?.label ?? 'nudge').next((line) => line.includes(' started on ')),
      ),
    );
    // Each matcher claims its partitions on its first heartbeat; with several, leases settle within a lease.
    if (matchers > 1) await new Promise((resolve) => setTimeout(resolve, 5_000));
    const start = performance.now();
    await publishAll(ns, entries);
    const published = performance.now();
    const db = ns.database;
    // Distinct ids, so that a decision written twice (a batch redone) is not counted twice. Rows
    // are counted until there are enough (a cheap count, which ClickHouse answers from its parts
    // without scanning the ids ten times a second beside the pipeline), then the ids.
    for (;;) {
      const rowsLogged = await count(`SELECT count() AS n FROM ${db}.log_entries`);
      const rowsDecided = await count(`SELECT count() AS n FROM ${db}.decisions`);
      if (rowsLogged < entries.length || rowsDecided < expected) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        continue;
      }
      const logged = await count(`SELECT uniqExact(entry_id) AS n FROM ${db}.log_entries`);
      const decided = await count(`SELECT uniqExact(decision_id) AS n FROM ${db}.decisions`);
      if (logged > entries.length || decided > expected)
        throw new Error(
          `ClickHouse holds ${logged} entries and ${decided} decisions, more than ${entries.length} and ${expected}`,
        );
      if (logged === entries.length && decided === expected) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const sustained = run(performance.now() - start, published - start);
    const rows = await count(`SELECT count() AS n FROM ${db}.decisions FINAL`);
    if (rows !== expected) throw new Error(`ClickHouse shows ${rows} decisions after FINAL, not ${expected}`);
    log(`pipeline: ${sustained.entries_per_s} entries/s; now the latency at half that…`);
    const latency = await latencyAt(ns, Math.round(rate() || sustained.entries_per_s / 2));
    return { sustained, latency };
  } finally {
    for (const child of children) child.kill('SIGTERM');
    await Promise.all(children.map((child) => new Promise((resolve) => child.once('exit', resolve))));
    await removeNamespace(ns);
  }
}

/** Publishes fresh entries of the same users at `rate` a second and times each entry's first decision as it reaches the decisions stream. */
async function latencyAt(ns: Namespace, rate: number): Promise<Latency> {
  const seconds = Number(values['latency-seconds']);
  const fresh = (await workloadEntries(rate * seconds, 13)).map((e, i) => ({ ...e, id: `lat-${i}` }));
  const sentAt = new Map<string, number>();
  const latencies: number[] = [];
  const decoder = new TextDecoder();
  const subscription = nc.subscribe(`${ns.name}.decisions.*`, {
    callback: (_error, message) => {
      const now = performance.now();
      for (const line of decoder.decode(message.data).split('\n')) {
        // A line is the decision's audit row (`decisionRow`).
        const { entry_id } = JSON.parse(line) as { entry_id: string };
        const at = sentAt.get(entry_id);
        if (at === undefined) continue;
        latencies.push(now - at);
        sentAt.delete(entry_id);
      }
    },
  });
  const publisher = new LogPublisher(js, ns, partitions);
  const start = performance.now();
  let sent = 0;
  while (sent < fresh.length) {
    const due = Math.min(fresh.length, Math.floor((rate * (performance.now() - start)) / 1000));
    const now = performance.now();
    const batch = fresh.slice(sent, due).map((e) => ({ ...e, received_at: Date.now() }));
    for (const entry of batch) sentAt.set(entry.id, now);
    if (batch.length > 0) await publisher.publish(batch);
    sent = due;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  await publisher.flush();
  // The last decisions: give the pipeline a few seconds beyond the longest latency seen.
  await new Promise((resolve) => setTimeout(resolve, 3_000));
  subscription.unsubscribe();
  latencies.sort((a, b) => a - b);
  const at = (q: number) =>
    Math.round(latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? NaN);
  return { rate, decisions: latencies.length, p50_ms: at(0.5), p99_ms: at(0.99), max_ms: at(1) };
}

try {
  log('raw loop…');
  const raw = await rawLoop();
  log(`raw loop: ${raw.entries_per_s} entries/s`);
  log(`pipeline with ${matchers} matcher process(es)…`);
  const { sustained, latency } = await pipeline(() => 0);
  const result = {
    entries: entries.length,
    users: size.users,
    events: size.events,
    decisions: expected,
    partitions,
    matchers,
    roles_apart: rolesApart,
    raw,
    pipeline: sustained,
    ratio: Number((sustained.entries_per_s / raw.entries_per_s).toFixed(3)),
    latency,
  };
  const dir = new URL('../out/', import.meta.url).pathname;
  await mkdir(dir, { recursive: true });
  await writeFile(`${dir}pipeline.json`, `${JSON.stringify(result, null, 2)}\n`);
  process.stdout.write(
    [
      `${size.users} users, 100 messages on ${Math.min(100, size.events)} of ${size.events} event names`,
      '',
      `| run | entries | decisions | elapsed | entries/s |`,
      `| --- | ---: | ---: | ---: | ---: |`,
      `| raw JetStream loop | ${entries.length} | – | ${raw.elapsed_ms} ms | ${raw.entries_per_s} |`,
      `| pipeline, ${matchers} matcher process(es)${rolesApart ? ' + audit + deliveries processes' : ''}, ${partitions} partitions | ${entries.length} | ${expected} | ${sustained.elapsed_ms} ms | ${sustained.entries_per_s} (${Math.round(result.ratio * 100)}% of raw) |`,
      '',
      `latency publish → decision at ${latency.rate} entries/s: p50 ${latency.p50_ms} ms, p99 ${latency.p99_ms} ms, max ${latency.max_ms} ms (${latency.decisions} entries)`,
      '',
    ].join('\n'),
  );
} finally {
  await nc.drain();
  await clickhouse.close();
}
