import { createReadStream } from 'node:fs';

export type LineChunk = { readonly firstLineNumber: number; readonly lines: readonly string[] };

/**
 * The lines of a text file in chunks, streaming: memory holds one read buffer, never the file.
 * A trailing newline does not make an empty last line; `\r\n` line ends are accepted.
 *
 * Chunks of 64 KiB (a few hundred entries) rather than Node's larger buffers: the entries of a
 * chunk stay alive until it is decided, and every young-generation collection meanwhile copies
 * them; with 1 MiB chunks the replay spent a quarter more time (measured with bench:core).
 */
export async function* ndjsonLines(path: string, highWaterMark = 1 << 16): AsyncGenerator<LineChunk> {
  const stream = createReadStream(path, { encoding: 'utf8', highWaterMark });
  let carry = '';
  let lineNumber = 1;
  for await (const chunk of stream as AsyncIterable<string>) {
    const lines = (carry + chunk).split('\n');
    carry = lines.pop() ?? '';
    yield { firstLineNumber: lineNumber, lines: lines.map(stripCarriageReturn) };
    lineNumber += lines.length;
  }
  if (carry !== '') yield { firstLineNumber: lineNumber, lines: [stripCarriageReturn(carry)] };
}

const stripCarriageReturn = (line: string) => (line.endsWith('\r') ? line.slice(0, -1) : line);
