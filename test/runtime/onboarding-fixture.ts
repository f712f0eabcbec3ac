import { readJsonDefinitions } from '../../pipeline/adapters/file/json-definitions-file.ts';
import { NdjsonLogFile } from '../../pipeline/adapters/file/ndjson-log-file.ts';
import type { MemoryLog } from '../../pipeline/adapters/memory/memory-log.ts';
import { compileCaps } from '../../pipeline/core/caps.ts';
import type { LogEntry } from '../../pipeline/core/log-entry.ts';
import { GlobalCapListSchema, MessageListSchema } from '../../pipeline/core/message-schema.ts';
import { partitionOf } from '../../pipeline/core/partition.ts';
import { buildRuleIndex } from '../../pipeline/core/rule-index.ts';
import { replayLine } from '../../pipeline/replay/replay-line.ts';
import { Replayer } from '../../pipeline/replay/replayer.ts';
import type { Rules } from '../../pipeline/runtime/partition-worker.ts';

const fixture = new URL('../fixtures/replay/onboarding/', import.meta.url).pathname;

/** The README's worked example, with what `nudge replay` decides for it: the reference the workers must match. */
export async function setup() {
  const entries: LogEntry[] = [];
  for await (const batch of new NdjsonLogFile(`${fixture}log.ndjson`).batches()) entries.push(...batch);
  const messages = await readJsonDefinitions(`${fixture}messages.json`, MessageListSchema);
  const caps = await readJsonDefinitions(`${fixture}caps.json`, GlobalCapListSchema);
  const rules: Rules = { index: buildRuleIndex(messages), caps: compileCaps(caps) };
  const replayer = new Replayer(rules.index, rules.caps);
  const expected = entries.flatMap((entry) => replayer.apply(entry).map(replayLine));
  return { entries, messages, caps, rules, expected };
}

/** Entries into the log the way ingestion packs them: per partition, a few per message. */
export function fill(
  log: Pick<MemoryLog, 'append'>,
  entries: readonly LogEntry[],
  perMessage: number,
  partitions: number,
) {
  for (let p = 0; p < partitions; p++) {
    const mine = entries.filter((e) => partitionOf(e.user_id, partitions) === p);
    for (let i = 0; i < mine.length; i += perMessage) log.append(p, mine.slice(i, i + perMessage));
  }
}
