import { basename } from 'node:path';
import type { LogEntry } from '../../core/log-entry.ts';
import { InputError } from '../../errors.ts';
import { parseEntry } from '../../parse-entry.ts';
import type { EntrySource } from '../../ports/entry-source.ts';
import { ndjsonLines } from './ndjson-lines.ts';

/** A log as NDJSON, one entry per line (DESIGN §2); blank lines are skipped. */
export class NdjsonLogFile implements EntrySource {
  constructor(private readonly path: string) {}

  async *batches(): AsyncGenerator<readonly LogEntry[]> {
    const name = basename(this.path);
    for await (const { firstLineNumber, lines } of readable(this.path)) {
      const entries: LogEntry[] = [];
      for (let i = 0; i < lines.length; i++) {
        const line = lines[i] ?? '';
        if (line.trim() === '') continue;
        entries.push(parseEntry(line, () => `${name}:${firstLineNumber + i}`));
      }
      yield entries;
    }
  }
}

async function* readable(path: string): ReturnType<typeof ndjsonLines> {
  try {
    yield* ndjsonLines(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === undefined) throw error;
    throw new InputError(path, [`cannot read the file (${code})`], { cause: error });
  }
}
