import type { Tokens } from 'marked';
import { marked } from 'marked';

/**
 * The README's runnable blocks, read with marked's lexer: every ```sh and ```console block of the
 * sections named, in order, with what an HTML comment just before it says of it:
 *   <!-- doctest: skip: why -->             not run, and why (shown as a skipped test)
 *   <!-- doctest: eventually -->            a step is run again until its output matches (60 s at
 *                                           most): what it reads (the audit) lags what was written
 *   <!-- doctest: serve until "text" -->    run in the background until it prints the text
 * A ```console block is steps: `$ command` (going on over lines as bash reads it) and the output it
 * must print (see `outputPattern`); a ```sh block is one script whose output is not checked.
 */
export type ReadmeBlock = {
  readonly section: string;
  readonly heading: string;
  /** The README line of the block's opening fence, for failure messages. */
  readonly line: number;
  readonly lang: 'sh' | 'console';
  readonly steps: readonly Step[];
  readonly skip?: string;
  readonly eventually: boolean;
  readonly serveUntil?: string;
};

export type Step = { readonly command: string; readonly expected: string };

export function readmeBlocks(markdown: string, sections: readonly string[]): ReadmeBlock[] {
  const blocks: ReadmeBlock[] = [];
  let section = '';
  let heading = '';
  let line = 1;
  let note = '';
  for (const token of marked.lexer(markdown)) {
    const at = line;
    line += token.raw.split('\n').length - 1;
    if (token.type === 'heading') {
      const { depth, text } = token as Tokens.Heading;
      if (depth === 2) section = text;
      heading = text;
    }
    if (token.type === 'html' && token.raw.includes('doctest:')) {
      note = token.raw;
      continue;
    }
    const code = token.type === 'code' ? (token as Tokens.Code) : undefined;
    if (code !== undefined && sections.includes(section) && (code.lang === 'sh' || code.lang === 'console')) {
      blocks.push({
        section,
        heading,
        line: at,
        lang: code.lang,
        steps: code.lang === 'sh' ? [{ command: code.text, expected: '' }] : consoleSteps(code.text),
        ...annotations(note),
      });
    }
    if (token.type !== 'space') note = '';
  }
  return blocks;
}

function annotations(note: string): Pick<ReadmeBlock, 'skip' | 'eventually' | 'serveUntil'> {
  const skip = /doctest: skip: (.*?)\s*-->/s.exec(note)?.[1];
  const serveUntil = /doctest: serve until "(.*?)"/.exec(note)?.[1];
  return {
    eventually: note.includes('doctest: eventually'),
    ...(skip === undefined ? {} : { skip }),
    ...(serveUntil === undefined ? {} : { serveUntil }),
  };
}

/** `$ command` lines (with their `\` continuations), each followed by the output it prints. */
export function consoleSteps(text: string): Step[] {
  const steps: { command: string; expected: string[] }[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const current = lines[i] ?? '';
    if (current.startsWith('$ ')) {
      const command = [current.slice(2)];
      while (continues(command.join('\n')) && i + 1 < lines.length) command.push(lines[++i] ?? '');
      steps.push({ command: command.join('\n'), expected: [] });
    } else if (steps.length > 0) steps[steps.length - 1]?.expected.push(current);
    else throw new Error(`a console block starts with output, not a "$ " command: ${current}`);
  }
  return steps.map((s) => ({ command: s.command, expected: s.expected.join('\n').trim() }));
}

/** Whether a command goes on to the next line, as bash reads it: after a `\`, or inside quotes. */
function continues(command: string): boolean {
  let quote: "'" | '"' | undefined;
  for (let i = 0; i < command.length; i++) {
    const c = command[i];
    if (quote === "'") {
      if (c === "'") quote = undefined;
    } else if (c === '\\') i++;
    else if (quote === '"') {
      if (c === '"') quote = undefined;
    } else if (c === "'" || c === '"') quote = c;
  }
  return quote !== undefined || command.endsWith('\\');
}

/**
 * What a step's output must be, from the README's text of it: the same text, where `…` stands
 * for any text, a 13-digit number (a time in ms) for any such number, and a run of white space for
 * any (or none: a README may wrap a long line of JSON).
 */
export function outputPattern(expected: string): RegExp {
  const source = expected
    .trim()
    .split(/(…|\b\d{13}\b|\s+)/)
    .map((part) => {
      if (part === '…') return '[\\s\\S]*?';
      if (/^\d{13}$/.test(part)) return '\\d{13}';
      if (/^\s+$/.test(part)) return '\\s*';
      return part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    })
    .join('');
  return new RegExp(`^${source}$`);
}
