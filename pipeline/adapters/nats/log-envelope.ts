import type { LogEntry } from '../../core/log-entry.ts';
import { InputError } from '../../errors.ts';
import { parseEntry } from '../../parse-entry.ts';
import { DEAD_LETTER_LINE_CHARS } from '../../ports/dead-letters.ts';
import type { MalformedLine } from '../../ports/log-source.ts';
import { encodeLines, lineOf } from './packs.ts';

const decoder = new TextDecoder('utf-8', { fatal: true });

/**
 * The log's message body: one or more entries of one partition as NDJSON, one entry per line,
 * in log order. JetStream acknowledges per message, so entries are packed (DESIGN §5: about 24k
 * messages/s one entry each against 380k entries/s packed 100 to a message on our machines).
 */
export function encodePack(entries: readonly LogEntry[]): Uint8Array {
  return encodeLines(entries.map(lineOf));
}

/** The entries of one log message, each checked against the contract; a bad one names its line. */
export function decodePack(body: Uint8Array, where: string): LogEntry[] {
  let text: string;
  try {
    text = decoder.decode(body);
  } catch (error) {
    throw new InputError(where, ['the body is not UTF-8'], { cause: error });
  }
  return text
    .split('\n')
    .filter((line) => line !== '')
    .map((line, i) => parseEntry(line, () => `${where} line ${i + 1}`));
}

/**
 * The entries of one log message as a reader of the live log takes them: a line that breaks the
 * contract (a producer publishing straight to the log can send one) is set aside with its problem
 * rather than thrown, so it never blocks its partition or the audit; the matcher dead-letters it.
 */
export function decodePackLeniently(
  body: Uint8Array,
  where: string,
): { entries: LogEntry[]; malformed: MalformedLine[] } {
  let text: string;
  try {
    text = decoder.decode(body);
  } catch {
    const line = new TextDecoder().decode(body.subarray(0, DEAD_LETTER_LINE_CHARS));
    return { entries: [], malformed: [{ index: 0, line, problem: `${where}: the body is not UTF-8` }] };
  }
  const entries: LogEntry[] = [];
  const malformed: MalformedLine[] = [];
  text
    .split('\n')
    .filter((line) => line !== '')
    .forEach((line, index) => {
      try {
        entries.push(parseEntry(line, () => `${where} line ${index + 1}`));
      } catch (error) {
        if (!(error instanceof InputError)) throw error;
        malformed.push({ index, line: line.slice(0, DEAD_LETTER_LINE_CHARS), problem: error.message });
      }
    });
  return { entries, malformed };
}
