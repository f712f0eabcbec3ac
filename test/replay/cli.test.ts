import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const root = new URL('../..', import.meta.url).pathname;
const bin = join(root, 'bin/nudge.js');
const run = promisify(execFile);

type Result = { code: number; stdout: string; stderr: string };
async function nudge(...args: string[]): Promise<Result> {
  try {
    const { stdout, stderr } = await run(process.execPath, [bin, ...args], { cwd: root, maxBuffer: 1 << 26 });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

/** The golden cases: ours, and those in ../shared/fixtures when that folder is beside the checkout. */
async function goldenCases(): Promise<string[]> {
  const folders = [join(root, 'test/fixtures/replay'), join(root, '../shared/fixtures')].filter(existsSync);
  const cases = await Promise.all(
    folders.map(async (folder) =>
      (await readdir(folder, { withFileTypes: true }))
        .filter((entry) => entry.isDirectory() && existsSync(join(folder, entry.name, 'expected.ndjson')))
        .map((entry) => join(folder, entry.name)),
    ),
  );
  return cases.flat();
}

const cases = await goldenCases();
const scratch = await mkdtemp(join(tmpdir(), 'nudge-cli-'));
const seed = join(root, 'test/fixtures/replay/seed-hourly');

describe('nudge replay reproduces the golden fixtures byte for byte', () => {
  it('has golden cases to check', () => {
    expect(cases.length).toBeGreaterThan(0);
  });

  it.each(cases)('%s to stdout and to --out', async (folder) => {
    const expected = await readFile(join(folder, 'expected.ndjson'), 'utf8');
    const args = ['replay', '--log', join(folder, 'log.ndjson'), '--messages', join(folder, 'messages.json')];
    const caps = join(folder, 'caps.json');
    if (existsSync(caps)) args.push('--caps', caps);

    const printed = await nudge(...args);
    expect(printed.code).toBe(0);
    expect(printed.stdout).toBe(expected);

    const out = join(scratch, `${folder.split('/').pop() ?? 'case'}.ndjson`);
    const written = await nudge(...args, '--out', out);
    expect(written.code).toBe(0);
    expect(written.stdout).toBe('');
    expect(await readFile(out, 'utf8')).toBe(expected);
  });
});

describe('nudge replay summary', () => {
  it('goes to stderr: entries read, decisions by outcome and reason, entries/s', async () => {
    const { stderr } = await nudge(
      'replay',
      '--log',
      join(seed, 'log.ndjson'),
      '--messages',
      join(seed, 'messages.json'),
    );
    expect(stderr).toContain('6 entries read, 6 decisions (sent 3, suppressed 3, filtered 0)');
    expect(stderr).toContain('min_interval 3');
    expect(stderr).toMatch(/\d+ entries\/s/);
  });
});

describe('nudge replay rejects bad input naming the file, line or path', () => {
  const messages = join(seed, 'messages.json');
  const track = (id: string, extra: object = {}) =>
    JSON.stringify({
      type: 'track',
      id,
      name: 'upload-completed',
      user_id: 'u1',
      received_at: 1793599200000,
      ...extra,
    });

  async function logFile(name: string, lines: string[]): Promise<string> {
    const path = join(scratch, name);
    await writeFile(path, lines.join('\n') + '\n');
    return path;
  }

  it('a malformed line: file and line number, exit 1', async () => {
    const log = await logFile('malformed.ndjson', [track('e1'), '{"type":"track",', track('e3')]);
    const result = await nudge('replay', '--log', log, '--messages', messages);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('malformed.ndjson:2');
    expect(result.stderr).toContain('invalid JSON');
  });

  it('an entry missing user_id', async () => {
    const log = await logFile('no-user.ndjson', [
      track('e1'),
      JSON.stringify({ type: 'track', id: 'e2', name: 'x', received_at: 1 }),
    ]);
    const result = await nudge('replay', '--log', log, '--messages', messages);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('no-user.ndjson:2');
    expect(result.stderr).toContain('user_id: required');
  });

  it('nested metadata, naming the key', async () => {
    const log = await logFile('nested.ndjson', [track('e1', { metadata: { size: { w: 1 } } })]);
    const result = await nudge('replay', '--log', log, '--messages', messages);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('nested.ndjson:1');
    expect(result.stderr).toContain('metadata.size: nested objects are not allowed');
  });

  it('an unknown entry type', async () => {
    const log = await logFile('type.ndjson', [
      JSON.stringify({ type: 'page', id: 'e', user_id: 'u', received_at: 1 }),
    ]);
    const result = await nudge('replay', '--log', log, '--messages', messages);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('type: unknown entry type "page"');
  });

  it('an invalid message file: the path and the problem', async () => {
    const bad = [
      {
        id: 'm1',
        channel: 'push',
        state: 'live',
        trigger: {
          event: 'upload-completed',
          where: {
            all: [
              { field: 'metadata.a', op: 'eq', value: 1 },
              { field: 'metadata.b', op: 'gtt', value: 2 },
            ],
          },
        },
        template: { body: 'hi' },
      },
    ];
    const path = join(scratch, 'bad-messages.json');
    await writeFile(path, JSON.stringify(bad));
    const result = await nudge('replay', '--log', join(seed, 'log.ndjson'), '--messages', path);
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain('bad-messages.json');
    expect(result.stderr).toContain('[0].trigger.where.all[1].op: unknown op "gtt"');
  });

  it('a message file that is not JSON', async () => {
    const path = join(scratch, 'broken.json');
    await writeFile(path, '[{"id":');
    const result = await nudge('replay', '--log', join(seed, 'log.ndjson'), '--messages', path);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('broken.json');
    expect(result.stderr).toContain('invalid JSON');
  });

  it('an invalid caps file', async () => {
    const path = join(scratch, 'caps.json');
    await writeFile(path, JSON.stringify([{ max: 3, per: '1 day' }]));
    const result = await nudge(
      'replay',
      '--log',
      join(seed, 'log.ndjson'),
      '--messages',
      messages,
      '--caps',
      path,
    );
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('[0].per: invalid duration "1 day"');
  });

  it('a log file that does not exist', async () => {
    const result = await nudge('replay', '--log', join(scratch, 'nope.ndjson'), '--messages', messages);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('nope.ndjson');
    expect(result.stderr).toContain('ENOENT');
  });

  it('a missing --log or an unknown option: usage, exit 2', async () => {
    const missing = await nudge('replay', '--messages', messages);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('--log <file.ndjson> is required');
    const unknown = await nudge('replay', '--log', 'x', '--messages', messages, '--speed', 'fast');
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('--speed');
  });

  it('an unknown command: exit 2', async () => {
    const result = await nudge('teleport');
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('unknown command "teleport"');
  });
});

describe('nudge replay streams', () => {
  it('writes the decisions of the first entries before the rest of the log exists', async () => {
    const fifo = join(scratch, 'log.fifo');
    await run('mkfifo', [fifo]);
    const child = spawn(
      process.execPath,
      [bin, 'replay', '--log', fifo, '--messages', join(seed, 'messages.json')],
      { cwd: root },
    );
    let stdout = '';
    child.stdout.setEncoding('utf8');
    const lines = () => stdout.split('\n').filter(Boolean).length;
    const first = Array.from({ length: 2000 }, (_, i) =>
      JSON.stringify({
        type: 'track',
        id: `a${i}`,
        name: 'upload-completed',
        user_id: `u${i}`,
        received_at: 1793599200000 + i,
      }),
    );
    const written = new Promise<void>((resolve) => {
      child.stdout.on('data', (chunk: string) => {
        stdout += chunk;
        if (lines() >= first.length) resolve();
      });
    });
    const { createWriteStream } = await import('node:fs');
    const writer = createWriteStream(fifo);
    writer.write(first.join('\n') + '\n');
    // The log is still open: every decision of the first part is out before the last line is written.
    await written;
    expect(lines()).toBe(first.length);
    writer.end(
      JSON.stringify({
        type: 'track',
        id: 'last',
        name: 'upload-completed',
        user_id: 'u0',
        received_at: 1793600000000,
      }) + '\n',
    );
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect(code).toBe(0);
    expect(lines()).toBe(first.length + 1);
  });
});
