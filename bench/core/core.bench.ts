// `npm run bench:core [-- --workload large|medium] [--entries N] [--users N] [--rounds N] [--keep-output]`:
// the decision core against two baselines measured in the same run, on each workload in turn.
import { spawnSync } from 'node:child_process';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { StreamLineSink } from '../../pipeline/adapters/file/stream-line-sink.ts';
import { workloadCaps, workloadMessages, writeWorkloadLog, type WorkloadSize } from './workload.ts';

/** The workloads, run in this order; each has its own folder under `bench/out/core/`. */
const WORKLOADS = {
  large: { entries: 1_000_000, users: 100_000, messages: 1000, events: 100 },
  medium: { entries: 500_000, users: 50_000, messages: 300, events: 100 },
} satisfies Record<string, WorkloadSize>;
type WorkloadName = keyof typeof WORKLOADS;
const isWorkloadName = (name: string): name is WorkloadName => Object.hasOwn(WORKLOADS, name);

const { values } = parseArgs({
  options: {
    workload: { type: 'string', default: 'all' },
    entries: { type: 'string' },
    users: { type: 'string' },
    rounds: { type: 'string', default: '3' },
    'keep-output': { type: 'boolean', default: false },
  },
});
const count = (flag: string, text: string | undefined): number | undefined => {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${flag} wants a positive integer, got "${text}"`);
  return n;
};
const entriesFlag = count('entries', values.entries);
const usersFlag = count('users', values.users);
const rounds = count('rounds', values.rounds) ?? 3;
const names: WorkloadName[] = values.workload === 'all' ? ['large', 'medium'] : [];
if (values.workload !== 'all') {
  if (!isWorkloadName(values.workload))
    throw new Error(`--workload wants all, ${Object.keys(WORKLOADS).join(' or ')}; got "${values.workload}"`);
  names.push(values.workload);
}

type Result = { phase: string; entries: number; elapsed_ms: number; max_rss_kb: number };
type Reported = Omit<Result, 'entries'> & { entries: number | null };
const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
const rate = (r: Result | undefined) => (r === undefined ? 0 : r.entries / (r.elapsed_ms / 1000));

function measure(phase: string, dir: string, size: WorkloadSize): Result {
  const child = spawnSync(
    process.execPath,
    ['--import', 'tsx', new URL('measure.ts', import.meta.url).pathname, phase, dir],
    {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
      maxBuffer: 1 << 20,
    },
  );
  if (child.status !== 0) throw new Error(`${phase} failed with status ${child.status}`);
  const reported = JSON.parse(child.stdout.trim().split('\n').pop() ?? '') as Reported;
  const result = { ...reported, entries: reported.entries ?? size.entries };
  process.stderr.write(
    `  ${phase}: ${(result.elapsed_ms / 1000).toFixed(2)} s, ${fmt(rate(result))} entries/s, peak RSS ${(result.max_rss_kb / 1024).toFixed(0)} MB\n`,
  );
  return result;
}

type Outcome = {
  name: WorkloadName;
  size: WorkloadSize;
  fullSize: boolean;
  table: string;
  coreShare: number;
};

async function runWorkload(name: WorkloadName): Promise<Outcome> {
  const own = WORKLOADS[name];
  const size: WorkloadSize = { ...own, entries: entriesFlag ?? own.entries, users: usersFlag ?? own.users };
  const dir = new URL(`../out/core/${name}`, import.meta.url).pathname;
  await mkdir(dir, { recursive: true });

  process.stderr.write(
    `[${name}] generating ${size.entries} entries over ${size.users} users, ${size.messages} messages on ${size.events} events…\n`,
  );
  await writeFile(`${dir}/messages.json`, JSON.stringify(workloadMessages(size), null, 1));
  await writeFile(`${dir}/caps.json`, JSON.stringify(workloadCaps));
  await writeWorkloadLog(size, StreamLineSink.toFile(`${dir}/log.ndjson`));

  // Floor and core alternate so both see the same machine; each keeps its best round.
  const best = new Map<string, Result>();
  for (let round = 0; round < rounds; round++) {
    process.stderr.write(`[${name}] round ${round + 1} of ${rounds}\n`);
    for (const phase of ['floor', 'core']) {
      const result = measure(phase, dir, size);
      const known = best.get(phase);
      if (known === undefined || result.elapsed_ms < known.elapsed_ms) best.set(phase, result);
    }
  }
  process.stderr.write(`[${name}] rules engines\n`);
  best.set('rules-engine', measure('rules-engine', dir, size));
  best.set('rules-engine-indexed', measure('rules-engine-indexed', dir, size));

  const floorOut = await readFile(`${dir}/out-floor.ndjson`).then((b) => b.byteLength);
  const coreOut = await readFile(`${dir}/out-core.ndjson`).then((b) => b.byteLength);
  if (!values['keep-output']) await Promise.all(['floor', 'core'].map((p) => rm(`${dir}/out-${p}.ndjson`)));

  const core = rate(best.get('core'));
  const coreShare = core / rate(best.get('floor'));
  const rows = [...best.values()].map((r) => {
    const ratio = core / rate(r);
    return `| ${r.phase} | ${r.entries.toLocaleString('en-US')} | ${(r.elapsed_ms / 1000).toFixed(2)} | ${fmt(rate(r))} | ${(r.max_rss_kb / 1024).toFixed(0)} | ${r.phase === 'core' ? '1' : ratio >= 10 ? ratio.toFixed(0) : ratio.toFixed(2)} |`;
  });
  const table = [
    `**${name}**: ${size.entries.toLocaleString('en-US')} entries (5% identify) over ${size.users.toLocaleString('en-US')} users, ${size.messages.toLocaleString('en-US')} live messages on ${size.events} events (${size.messages / size.events} per event), 2 global caps; output ${(coreOut / 1e6).toFixed(0)} MB (floor ${(floorOut / 1e6).toFixed(0)} MB).`,
    '',
    '| phase | entries | seconds | entries/s | peak RSS MB | core rate ÷ phase rate |',
    '| --- | ---: | ---: | ---: | ---: | ---: |',
    ...rows,
    '',
    `**${name}: core ÷ floor = ${(coreShare * 100).toFixed(0)}% of the floor's rate; core ÷ json-rules-engine = ${fmt(core / rate(best.get('rules-engine')))}×** (÷ the hand-indexed json-rules-engine: ${fmt(core / rate(best.get('rules-engine-indexed')))}×).`,
  ].join('\n');
  process.stdout.write(table + '\n\n');
  const fullSize = size.entries === own.entries && size.users === own.users;
  return { name, size, fullSize, table, coreShare };
}

const started = performance.now();
const outcomes: Outcome[] = [];
for (const name of names) outcomes.push(await runWorkload(name));
const minutes = (performance.now() - started) / 60_000;

const summary = `Node ${process.version}, ${new Date().toISOString().slice(0, 10)}; ${rounds} round${rounds === 1 ? '' : 's'} of floor and core a workload, the best of each kept; the whole run took ${minutes.toFixed(1)} min. Core ÷ floor: ${outcomes.map((o) => `${o.name} ${(o.coreShare * 100).toFixed(0)}%`).join(', ')}.`;
process.stdout.write(summary + '\n');

// Only a full-size run of every workload rewrites the README's block (it holds them all).
const docPath = new URL('../README.md', import.meta.url).pathname;
const doc = await readFile(docPath, 'utf8');
const marked = /(<!-- bench:core:start -->\n)[\s\S]*?(\n<!-- bench:core:end -->)/;
const complete = outcomes.length === Object.keys(WORKLOADS).length && outcomes.every((o) => o.fullSize);
if (complete && marked.test(doc)) {
  const block = [summary, ...outcomes.map((o) => o.table)].join('\n\n');
  await writeFile(docPath, doc.replace(marked, `$1\n${block}\n$2`));
  process.stderr.write(`bench/README.md: the bench:core block rewritten\n`);
} else
  process.stderr.write(
    `bench/README.md left as it is (only a full-size run of every workload rewrites it)\n`,
  );
