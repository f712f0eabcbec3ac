// `npm run bench:cluster -- [--entries N]` (after `nudge services up --cluster`): what replicating the
// log costs NATS (issue #21, docs/scaling.md). The same packed log entries, published as
// `LogPublisher` publishes them and acknowledged, to a stream of one replica on the single server and
// to a stream of three replicas on the cluster; for each, the CPU every nats-server process spent
// (read from /proc, summed over the nodes) and the bytes stored, per entry, and their ratio.
import { readdir, readFile } from 'node:fs/promises';
import { randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import { CLUSTER, clusterNatsUrl } from '../../bin/services/cluster-services.ts';
import { connectNats } from '../../pipeline/adapters/nats/connect-nats.ts';
import { ensureLogStream, LogPublisher } from '../../pipeline/adapters/nats/log-stream.ts';
import { loadConfig } from '../../pipeline/config/load-config.ts';
import { parseEntry } from '../../pipeline/parse-entry.ts';
import type { LogEntry } from '../../pipeline/core/log-entry.ts';
import { Namespace } from '../../pipeline/namespace.ts';
import { seededRandom, writeWorkloadLog } from '../core/workload.ts';

const { values } = parseArgs({ options: { entries: { type: 'string', default: '200000' } } });
const size = { entries: Number(values.entries), users: 20_000, messages: 100, events: 8 };
const PARTITIONS = 8;
const log = (line: string) => process.stderr.write(`bench: ${line}\n`);
const config = loadConfig(process.env);

const entries: LogEntry[] = [];
await writeWorkloadLog(
  size,
  {
    writeLine: (line) => void entries.push(parseEntry(line, () => 'workload')),
    flush: () => Promise.resolve(),
    close: () => Promise.resolve(),
  },
  seededRandom(11),
);

/** The pids of the nats-server processes listening on `ports` (`-p <port>` on their command line). */
async function natsServers(ports: readonly number[]): Promise<number[]> {
  const pids: number[] = [];
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const args = (await readFile(`/proc/${name}/cmdline`, 'utf8').catch(() => '')).split('\0');
    if (!(args[0] ?? '').endsWith('nats-server')) continue;
    const port = Number(args[args.indexOf('-p') + 1]);
    if (ports.includes(port)) pids.push(Number(name));
  }
  return pids;
}

/** CPU seconds (user + system) a process has used. */
async function cpuSeconds(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

type Cost = {
  replicas: number;
  nodes: number;
  cpu_us_per_entry: number;
  bytes_per_entry: number;
  entries_per_s: number;
};

async function cost(url: string, ports: readonly number[], replicas: number): Promise<Cost> {
  const pids = await natsServers(ports);
  if (pids.length !== ports.length)
    throw new Error(
      `expected ${ports.length} nats-server processes on ${ports.join(', ')}, found ${pids.length}`,
    );
  const nc = await connectNats(url, 'bench cluster');
  const jsm = await nc.jetstreamManager();
  const ns = new Namespace(`bench_r${replicas}_${randomUUID().replaceAll('-', '').slice(0, 12)}`, {
    streamReplicas: replicas,
  });
  try {
    await ensureLogStream(jsm, ns, PARTITIONS);
    const before = await Promise.all(pids.map(cpuSeconds));
    const started = performance.now();
    const publisher = new LogPublisher(nc.jetstream(), ns, PARTITIONS);
    for (let i = 0; i < entries.length; i += 1_000) await publisher.publish(entries.slice(i, i + 1_000));
    await publisher.flush();
    const seconds = (performance.now() - started) / 1000;
    const after = await Promise.all(pids.map(cpuSeconds));
    const cpu = after.reduce((sum, s, i) => sum + s - (before[i] ?? 0), 0);
    const info = await jsm.streams.info(ns.logStream);
    return {
      replicas,
      nodes: pids.length,
      cpu_us_per_entry: Number(((cpu * 1e6) / entries.length).toFixed(2)),
      // Per copy, as JetStream reports it; a node holds one copy.
      bytes_per_entry: Math.round(info.state.bytes / entries.length),
      entries_per_s: Math.round(entries.length / seconds),
    };
  } finally {
    await jsm.streams.delete(ns.logStream).catch(() => false);
    await nc.drain();
  }
}

const singlePort = Number(new URL(config.natsUrl.split(',')[0] ?? '').port || 4222);
const runs: Cost[] = [];
for (let round = 0; round < 2; round++) {
  runs.push(await cost(`nats://127.0.0.1:${singlePort}`, [singlePort], 1));
  log(`R1 on one server: ${JSON.stringify(runs.at(-1))}`);
  runs.push(
    await cost(
      clusterNatsUrl(),
      CLUSTER.nats.map((n) => n.port),
      3,
    ),
  );
  log(`R3 on the cluster: ${JSON.stringify(runs.at(-1))}`);
}
const mean = (replicas: number, key: keyof Cost) => {
  const of = runs.filter((r) => r.replicas === replicas);
  return Number((of.reduce((sum, r) => sum + r[key], 0) / of.length).toFixed(2));
};
const result = {
  entries: entries.length,
  r1: {
    cpu_us_per_entry: mean(1, 'cpu_us_per_entry'),
    bytes_per_entry: mean(1, 'bytes_per_entry'),
    entries_per_s: mean(1, 'entries_per_s'),
  },
  r3: {
    cpu_us_per_entry: mean(3, 'cpu_us_per_entry'),
    bytes_per_entry: mean(3, 'bytes_per_entry'),
    entries_per_s: mean(3, 'entries_per_s'),
  },
  cpu_ratio_r3_to_r1: Number((mean(3, 'cpu_us_per_entry') / mean(1, 'cpu_us_per_entry')).toFixed(2)),
  runs,
};
process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
