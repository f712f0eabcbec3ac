import type { EntrySource } from '../ports/entry-source.ts';
import type { LineSink } from '../ports/line-sink.ts';
import { ReplayLineFormatter } from './replay-line.ts';
import type { Replayer } from './replayer.ts';

/** Streams a log through a replayer into a sink, one line per decision, in log order then candidate order. */
export async function runReplay(
  source: EntrySource,
  sink: LineSink,
  replayer: Replayer,
  options: { explain?: boolean } = {},
): Promise<void> {
  const formatter = new ReplayLineFormatter(options);
  for await (const batch of source.batches()) {
    for (const entry of batch) {
      for (const decision of replayer.apply(entry)) sink.writeLine(formatter.format(decision));
    }
    await sink.flush();
  }
  await sink.close();
}
