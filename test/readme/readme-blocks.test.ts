import { describe, expect, it } from 'vitest';
import { consoleSteps, outputPattern, readmeBlocks } from './readme-blocks.ts';

const README = [
  '# Title',
  '## Quick start',
  '<!-- doctest: skip: it runs this test -->',
  '',
  '```sh',
  'npm test',
  '```',
  '',
  '## Other',
  '```sh',
  'echo not run',
  '```',
  '## HTTP API',
  '<!-- doctest: eventually -->',
  '',
  '```console',
  '$ curl -s $NUDGE/healthz',
  '{"status":"ok"}',
  '```',
  '```json',
  '{"not":"run"}',
  '```',
].join('\n');

describe('the README doctest: which blocks run, and how', () => {
  it('takes the sh and console blocks of the named sections, with the note before each', () => {
    const blocks = readmeBlocks(README, ['Quick start', 'HTTP API']);
    expect(blocks.map((b) => [b.section, b.line, b.lang, b.skip, b.eventually])).toEqual([
      ['Quick start', 5, 'sh', 'it runs this test', false],
      ['HTTP API', 16, 'console', undefined, true],
    ]);
    expect(blocks[1]?.steps).toEqual([{ command: 'curl -s $NUDGE/healthz', expected: '{"status":"ok"}' }]);
  });

  it('reads a command over lines as bash does: after a backslash, or inside quotes', () => {
    const steps = consoleSteps(
      ["$ curl -d '{", `  "a": 1}'`, '{"ok":true}', '$ echo a \\', '  b', 'a b'].join('\n'),
    );
    expect(steps).toEqual([
      { command: 'curl -d \'{\n  "a": 1}\'', expected: '{"ok":true}' },
      { command: 'echo a \\\n  b', expected: 'a b' },
    ]);
  });

  it('refuses a console block that starts with output', () => {
    expect(() => consoleSteps('{"status":"ok"}')).toThrow(/starts with output/);
  });
});

describe('what a step must print', () => {
  it('is the text shown, where … is any text, a 13-digit number any time, and white space any', () => {
    const pattern = outputPattern('{"id":"…","status":"accepted",\n  "received_at":1796520000000}');
    expect(pattern.test('{"id":"3f2a","status":"accepted","received_at":1796530104799}')).toBe(true);
  });

  it('fails on an example that drifted from the code: a field renamed, a count or a word changed', () => {
    const pattern = outputPattern('{"decisions":2,"sent":1,"entries":4}');
    expect(pattern.test('{"decisions":2,"sent":1}')).toBe(false);
    expect(pattern.test('{"decisions":3,"sent":1,"entries":4}')).toBe(false);
    expect(outputPattern('replay: identical').test('replay: 3 decisions differ')).toBe(false);
    expect(outputPattern('12').test('1796530104799')).toBe(false);
  });
});
