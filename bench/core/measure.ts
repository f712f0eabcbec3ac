// One benchmark phase in its own process, so each reports its own peak RSS. Prints one JSON line.
import { readFile } from 'node:fs/promises';
import { replayCommand } from '../../bin/replay-command.ts';
import { NdjsonLogFile } from '../../pipeline/adapters/file/ndjson-log-file.ts';
import { StreamLineSink } from '../../pipeline/adapters/file/stream-line-sink.ts';
import type { TrackEntry } from '../../pipeline/core/log-entry.ts';
import { MessageListSchema } from '../../pipeline/core/message-schema.ts';
import { floorReplay } from './floor.ts';
import { factsOf, indexedRulesEngines, rulesEngine } from './rules-engine-baseline.ts';

const [phase = '', dir = '', budgetText = '5000'] = process.argv.slice(2);
const files = {
  log: `${dir}/log.ndjson`,
  messages: `${dir}/messages.json`,
  caps: `${dir}/caps.json`,
  out: `${dir}/out-${phase}.ndjson`,
};
const messages = MessageListSchema.parse(JSON.parse(await readFile(files.messages, 'utf8')));

async function sampleEntries(limit: number): Promise<TrackEntry[]> {
  const sample: TrackEntry[] = [];
  for await (const batch of new NdjsonLogFile(files.log).batches()) {
    for (const entry of batch) if (entry.type === 'track' && sample.length < limit) sample.push(entry);
    if (sample.length >= limit) break;
  }
  return sample;
}

/** Entries through json-rules-engine until the time budget is spent; returns [entries, ms]. */
async function rulesEngineRate(run: (entry: TrackEntry) => Promise<unknown>): Promise<[number, number]> {
  const sample = await sampleEntries(100_000);
  const budget = Number(budgetText);
  const started = performance.now();
  let done = 0;
  for (const entry of sample) {
    await run(entry);
    done++;
    if (performance.now() - started > budget) break;
  }
  return [done, performance.now() - started];
}

let entries: number;
let elapsed: number;
const started = performance.now();
switch (phase) {
  case 'core':
    await replayCommand([
      '--log',
      files.log,
      '--messages',
      files.messages,
      '--caps',
      files.caps,
      '--out',
      files.out,
    ]);
    entries = Number.NaN; // the replay counts them; JSON writes NaN as null
    elapsed = performance.now() - started;
    break;
  case 'floor':
    entries = await floorReplay(files.log, messages, StreamLineSink.toFile(files.out));
    elapsed = performance.now() - started;
    break;
  case 'rules-engine': {
    const engine = rulesEngine(messages);
    [entries, elapsed] = await rulesEngineRate((entry) => engine.run(factsOf(entry, {})));
    break;
  }
  case 'rules-engine-indexed': {
    const engines = indexedRulesEngines(messages);
    [entries, elapsed] = await rulesEngineRate(
      (entry) => engines.get(entry.name)?.run(factsOf(entry, {})) ?? Promise.resolve(),
    );
    break;
  }
  default:
    throw new Error(`unknown phase "${phase}"`);
}
process.stdout.write(
  JSON.stringify({ phase, entries, elapsed_ms: elapsed, max_rss_kb: process.resourceUsage().maxRSS }) + '\n',
);
