import { parseArgs } from 'node:util';
import { NdjsonLogFile } from '../pipeline/adapters/file/ndjson-log-file.ts';
import { readJsonDefinitions } from '../pipeline/adapters/file/json-definitions-file.ts';
import { StreamLineSink } from '../pipeline/adapters/file/stream-line-sink.ts';
import { compileCaps } from '../pipeline/core/caps.ts';
import { GlobalCapListSchema, MessageListSchema } from '../pipeline/core/message-schema.ts';
import { buildRuleIndex } from '../pipeline/core/rule-index.ts';
import { Replayer } from '../pipeline/replay/replayer.ts';
import type { ReplaySummary } from '../pipeline/replay/replayer.ts';
import { runReplay } from '../pipeline/replay/run-replay.ts';
import { UsageError } from './usage-error.ts';

/** `nudge replay --log <file.ndjson> --messages <file.json> [--caps <file.json>] [--out <file.ndjson>] [--explain]` */
export async function replayCommand(args: string[]): Promise<void> {
  const options = parseReplayArgs(args);
  const messages = await readJsonDefinitions(options.messages, MessageListSchema);
  const caps = options.caps === undefined ? [] : await readJsonDefinitions(options.caps, GlobalCapListSchema);
  const replayer = new Replayer(buildRuleIndex(messages), compileCaps(caps));
  const sink =
    options.out === undefined ? StreamLineSink.toStream(process.stdout) : StreamLineSink.toFile(options.out);
  const started = performance.now();
  await runReplay(new NdjsonLogFile(options.log), sink, replayer, { explain: options.explain });
  process.stderr.write(summaryText(replayer.summary, replayer.users, performance.now() - started));
}

function parseReplayArgs(args: string[]) {
  let values;
  try {
    ({ values } = parseArgs({
      args,
      options: {
        log: { type: 'string' },
        messages: { type: 'string' },
        caps: { type: 'string' },
        out: { type: 'string' },
        explain: { type: 'boolean', default: false },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    throw new UsageError((error as Error).message, { cause: error });
  }
  const { log, messages, caps, out, explain } = values;
  if (log === undefined) throw new UsageError('--log <file.ndjson> is required');
  if (messages === undefined) throw new UsageError('--messages <file.json> is required');
  return { log, messages, caps, out, explain };
}

function summaryText(summary: ReplaySummary, users: number, elapsedMs: number): string {
  const seconds = elapsedMs / 1000;
  const rate = seconds > 0 ? Math.round(summary.entries / seconds) : summary.entries;
  const reasons = Object.entries(summary.reasons)
    .filter(([, count]) => count > 0)
    .map(([reason, count]) => `${reason} ${count}`)
    .join(', ');
  return (
    `replay: ${summary.entries} entries read, ${summary.decisions} decisions ` +
    `(sent ${summary.outcomes.sent}, suppressed ${summary.outcomes.suppressed}, filtered ${summary.outcomes.filtered})\n` +
    `replay: reasons: ${reasons || 'none'}\n` +
    (summary.repeats > 0
      ? `replay: ${summary.repeats} entries dropped as repeats of an id already applied\n`
      : '') +
    `replay: ${users} users with state, ${seconds.toFixed(2)} s, ${rate} entries/s\n`
  );
}
