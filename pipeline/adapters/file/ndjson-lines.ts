import { createReadStream } from 'node:fs';

export type LineChunk = { readonly firstLineNumber: number; readonly lines: readonly string[] };

/**
 * The lines of a text file in chunks, streaming: memory holds one read buffer, never the file.
 * A trailing newline does not make an empty last line; `\r\n` line ends are accepted.
 */
export async function* ndjsonLines(path: string, highWaterMark = 1 << 20): AsyncGenerator<LineChunk> {
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
