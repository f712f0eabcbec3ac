// `npm run bench:core [-- --entries N]`: the decision core against two baselines measured in the same run.
import { spawnSync } from 'node:child_process';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { StreamLineSink } from '../../pipeline/adapters/file/stream-line-sink.ts';
import { workloadCaps, workloadMessages, writeWorkloadLog } from './workload.ts';

const { values } = parseArgs({
  options: {
    entries: { type: 'string', default: '1000000' },
    users: { type: 'string', default: '100000' },
    rounds: { type: 'string', default: '3' },
    'keep-output': { type: 'boolean', default: false },
  },
});
const size = { entries: Number(values.entries), users: Number(values.users), messages: 1000, events: 100 };
const dir = new URL('../out/core', import.meta.url).pathname;
await mkdir(dir, { recursive: true });

process.stderr.write(
  `generating ${size.entries} entries over ${size.users} users, ${size.messages} messages on ${size.events} events…\n`,
);
await writeFile(`${dir}/messages.json`, JSON.stringify(workloadMessages(size), null, 1));
await writeFile(`${dir}/caps.json`, JSON.stringify(workloadCaps));
await writeWorkloadLog(size, StreamLineSink.toFile(`${dir}/log.ndjson`));

type Result = { phase: string; entries: number; elapsed_ms: number; max_rss_kb: number };
type Reported = Omit<Result, 'entries'> & { entries: number | null };
function measure(phase: string): Result {
  process.stderr.write(`running ${phase}…\n`);
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
  const result = JSON.parse(child.stdout.trim().split('\n').pop() ?? '') as Reported;
  return { ...result, entries: result.entries ?? size.entries };
}

// Floor and core alternate so both see the same machine; each keeps its best round.
const best = new Map<string, Result>();
for (let round = 0; round < Number(values.rounds); round++) {
  for (const phase of ['floor', 'core']) {
    const result = measure(phase);
    const known = best.get(phase);
    if (known === undefined || result.elapsed_ms < known.elapsed_ms) best.set(phase, result);
  }
}
best.set('rules-engine', measure('rules-engine'));
best.set('rules-engine-indexed', measure('rules-engine-indexed'));

const floorOut = await readFile(`${dir}/out-floor.ndjson`).then((b) => b.byteLength);
const coreOut = await readFile(`${dir}/out-core.ndjson`).then((b) => b.byteLength);
if (!values['keep-output']) await Promise.all(['floor', 'core'].map((p) => rm(`${dir}/out-${p}.ndjson`)));

const rate = (r: Result | undefined) => (r === undefined ? 0 : r.entries / (r.elapsed_ms / 1000));
const core = rate(best.get('core'));
const rows = [...best.values()].map((r) => {
  const ratio = core / rate(r);
  return `| ${r.phase} | ${r.entries.toLocaleString('en-US')} | ${(r.elapsed_ms / 1000).toFixed(2)} | ${Math.round(rate(r)).toLocaleString('en-US')} | ${(r.max_rss_kb / 1024).toFixed(0)} | ${r.phase === 'core' ? '1' : ratio >= 10 ? ratio.toFixed(0) : ratio.toFixed(2)} |`;
});
const table = [
  `Workload: ${size.entries.toLocaleString('en-US')} entries (5% identify) over ${size.users.toLocaleString('en-US')} users, ${size.messages} live messages on ${size.events} events, 2 global caps; output ${(coreOut / 1e6).toFixed(0)} MB (floor ${(floorOut / 1e6).toFixed(0)} MB). Node ${process.version}, ${new Date().toISOString().slice(0, 10)}.`,
  '',
  '| phase | entries | seconds | entries/s | peak RSS MB | core rate ÷ phase rate |',
  '| --- | ---: | ---: | ---: | ---: | ---: |',
  ...rows,
  '',
  `**core ÷ floor = ${((core / rate(best.get('floor'))) * 100).toFixed(0)}% of the floor's rate; core ÷ json-rules-engine = ${Math.round(core / rate(best.get('rules-engine'))).toLocaleString('en-US')}×** (÷ the hand-indexed json-rules-engine: ${Math.round(core / rate(best.get('rules-engine-indexed'))).toLocaleString('en-US')}×).`,
].join('\n');
process.stdout.write(table + '\n');

const docPath = new URL('../README.md', import.meta.url).pathname;
const doc = await readFile(docPath, 'utf8');
const marked = /(<!-- bench:core:start -->\n)[\s\S]*?(\n<!-- bench:core:end -->)/;
if (size.entries >= 1_000_000 && marked.test(doc))
  await writeFile(docPath, doc.replace(marked, `$1${table}$2`));
