import type { ChildProcess } from 'node:child_process';
import { execFile, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { readdir, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ReadmeBlock } from './readme-blocks.ts';
import { outputPattern, readmeBlocks } from './readme-blocks.ts';
import { ShellSession } from './shell-session.ts';

/**
 * The README is tested (issue #13): every ```sh and ```console block of these sections runs, in
 * order, against the live stack in a fresh namespace, as a reader would run it in one terminal,
 * and what a block shows as output must be what it prints. An example that drifts from the code
 * fails here. The quick start runs `npm start` as written and follows the curl it prints.
 */
const SECTIONS = ['Quick start', 'Replay', 'HTTP API'];
const ROOT = new URL('../..', import.meta.url).pathname;
const README = readFileSync(new URL('README.md', `file://${ROOT}`), 'utf8');
const blocks = readmeBlocks(README, SECTIONS);
const run = promisify(execFile);

const freshNamespace = (prefix: string) => `t_${prefix}_${randomUUID().replaceAll('-', '').slice(0, 12)}`;

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => {
    server.close(() => {
      resolve();
    });
  });
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

/** A process group started in the background, its output kept, stopped as Ctrl-C stops it. */
class Background {
  output = '';
  private readonly child: ChildProcess;
  /** The exit code, or the signal that ended it. */
  readonly exited: Promise<number | NodeJS.Signals | null>;

  constructor(command: string, env: NodeJS.ProcessEnv) {
    this.child = spawn('bash', ['-c', command], { cwd: ROOT, env, detached: true });
    this.child.stdout?.on('data', (chunk: Buffer) => (this.output += chunk.toString()));
    this.child.stderr?.on('data', (chunk: Buffer) => (this.output += chunk.toString()));
    this.exited = new Promise((resolve) => {
      this.child.on('close', (code, signal) => {
        resolve(code ?? signal);
      });
    });
  }

  async until(text: string, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.output.includes(text)) {
      if (Date.now() > deadline || this.child.exitCode !== null)
        throw new Error(`never printed "${text}":\n${this.output.slice(-3000)}`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }

  /** SIGINT to the whole group, as a terminal's Ctrl-C sends it. */
  async interrupt(): Promise<number | NodeJS.Signals | null> {
    if (this.child.pid !== undefined && this.child.exitCode === null) process.kill(-this.child.pid, 'SIGINT');
    return this.exited;
  }
}

async function dropNamespace(name: string): Promise<void> {
  await run(process.execPath, ['bin/nudge.js', 'namespace', 'drop', name, '--yes'], { cwd: ROOT });
}

/** Runs a block's steps in the session; each must exit 0 and print what the README shows. */
async function runBlock(session: ShellSession, block: ReadmeBlock): Promise<void> {
  for (const step of block.steps) {
    const pattern = outputPattern(step.expected);
    const deadline = Date.now() + (block.eventually ? 60_000 : 0);
    for (;;) {
      const { output, code } = await session.run(step.command);
      const where = `README.md:${block.line} (${block.heading}): $ ${step.command}\n--- printed:\n${output}`;
      const matches = step.expected === '' || pattern.test(output.trim());
      if (code === 0 && matches) break;
      if (Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 1_000));
        continue;
      }
      expect(code, `exit code of ${where}`).toBe(0);
      expect(output.trim(), `${where}\n--- the README shows:\n${step.expected}`).toMatch(pattern);
    }
  }
}

/** A section's blocks in one terminal, with `nudge start` (the API and the matcher) on a fresh namespace. */
function sectionAgainstStack(section: string): void {
  describe(section, { timeout: 180_000 }, () => {
    const namespace = freshNamespace(section.replace(/\W/g, '').toLowerCase().slice(0, 8));
    let stack: Background;
    let session: ShellSession;
    let before: Set<string>;
    beforeAll(async () => {
      before = new Set(await readdir(ROOT));
      const env = { ...process.env, NUDGE_NAMESPACE: namespace, NUDGE_API_PORT: String(await freePort()) };
      stack = new Background(`exec node bin/nudge.js start`, env);
      await stack.until('api: listening on', 60_000);
      session = new ShellSession(ROOT, env);
    }, 90_000);
    afterAll(async () => {
      session.close();
      expect(await stack.interrupt()).toBe(0);
      // The files the examples wrote (upload-ready.json, what-if.json…), as a reader would tidy up.
      for (const made of (await readdir(ROOT)).filter((name) => !before.has(name)))
        await rm(new URL(made, `file://${ROOT}/`), { recursive: true, force: true });
      await dropNamespace(namespace);
    }, 60_000);
    for (const block of blocks.filter((b) => b.section === section)) {
      const title = `README.md:${block.line} ${block.heading}`;
      if (block.skip !== undefined) it.skip(`${title} (${block.skip})`, () => undefined);
      else it(title, () => runBlock(session, block));
    }
  });
}

describe('Quick start', { timeout: 240_000 }, () => {
  const namespace = freshNamespace('qs');
  let env: NodeJS.ProcessEnv;
  let session: ShellSession;
  beforeAll(async () => {
    env = { ...process.env, NUDGE_NAMESPACE: namespace, NUDGE_API_PORT: String(await freePort()) };
    session = new ShellSession(ROOT, env);
  });
  afterAll(async () => {
    session.close();
    await dropNamespace(namespace);
  }, 60_000);

  for (const block of blocks.filter((b) => b.section === 'Quick start')) {
    const title = `README.md:${block.line} ${block.steps[0]?.command ?? ''}`;
    if (block.skip !== undefined) it.skip(`${title} (${block.skip})`, () => undefined);
    else if (block.serveUntil === undefined) it(title, () => runBlock(session, block));
    else
      it(`${title}: it prints where to look, and the curl it prints leads to a send`, async () => {
        const serving = new Background(block.steps[0]?.command ?? '', env);
        try {
          await serving.until(block.serveUntil ?? '', 180_000);
          await followThePrintedCurl(session, serving.output);
        } finally {
          // npm and the shell end on the SIGINT itself, as in a terminal; nudge ends cleanly under them.
          expect([0, 'SIGINT'], serving.output.slice(-2000)).toContain(await serving.interrupt());
        }
        expect(serving.output).toMatch(/demo: stopped after \d+ entries/);
      });
  }
});

/** What `npm start` prints to try: the upload is accepted, and the decisions it points at show the send. */
async function followThePrintedCurl(session: ShellSession, printed: string): Promise<void> {
  const lines = printed.split('\n');
  const tryIt = lines.findIndex((line) => line.includes('Try it:'));
  const decided = lines.findIndex((line) => line.includes('What was decided'));
  expect(tryIt, printed).toBeGreaterThan(0);
  expect(decided, printed).toBeGreaterThan(tryIt);
  const upload = lines.slice(tryIt + 1, decided).join('\n');
  const look = lines[decided + 1] ?? '';
  const posted = await session.run(upload);
  expect(posted.output, upload).toMatch(/"accepted":2/);
  const user = /\/v1\/users\/([^/]+)\/decisions/.exec(look)?.[1] ?? '';
  const deadline = Date.now() + 30_000;
  let sent = false;
  let answer = '';
  while (!sent && Date.now() < deadline) {
    answer = (await session.run(look)).output;
    const body = JSON.parse(answer) as { decisions?: { message_id: string; outcome: string }[] };
    sent = (body.decisions ?? []).some((d) => d.message_id === 'upload-ready' && d.outcome === 'sent');
    if (!sent) await new Promise((resolve) => setTimeout(resolve, 500));
  }
  expect(sent, `${user}: ${answer}`).toBe(true);
  const dashboard = /(http:\/\/\S+\/dashboard\?key=\S+)/.exec(printed)?.[1] ?? '';
  expect((await fetch(dashboard)).status).toBe(200);
}

sectionAgainstStack('Replay');
sectionAgainstStack('HTTP API');
