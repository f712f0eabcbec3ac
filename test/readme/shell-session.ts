import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';

/**
 * One bash, as a reader's terminal: the README's commands run in it one after the other, so a
 * variable set by one (`export KEY=…`) is there for the next. Each command's output (stdout and
 * stderr together, as a terminal shows them) and exit code are read up to a marker line.
 */
export class ShellSession {
  private readonly bash: ChildProcessWithoutNullStreams;
  private buffered = '';
  private waiting: (() => void) | undefined;

  constructor(cwd: string, env: NodeJS.ProcessEnv) {
    this.bash = spawn('bash', ['--noprofile', '--norc'], { cwd, env });
    const take = (chunk: Buffer) => {
      this.buffered += chunk.toString();
      this.waiting?.();
    };
    this.bash.stdout.on('data', take);
    this.bash.stderr.on('data', take);
    this.bash.stdin.write('exec 2>&1\n');
  }

  async run(command: string, timeoutMs = 120_000): Promise<{ output: string; code: number }> {
    const marker = `__doctest_${randomUUID()}__`;
    this.buffered = '';
    this.bash.stdin.write(`${command}\n__doctest_rc=$?; printf '\\n${marker} %s\\n' "$__doctest_rc"\n`);
    const deadline = Date.now() + timeoutMs;
    const ends = new RegExp(`\\n${marker} (\\d+)\\n`);
    for (;;) {
      const match = ends.exec(this.buffered);
      if (match !== null) {
        const output = this.buffered.slice(0, match.index);
        this.buffered = this.buffered.slice(match.index + match[0].length);
        return { output: output.replace(/\n$/, ''), code: Number(match[1]) };
      }
      if (Date.now() > deadline)
        throw new Error(`no end of "${command}" within ${timeoutMs} ms: ${this.buffered}`);
      await new Promise<void>((resolve) => {
        this.waiting = resolve;
        setTimeout(resolve, 250);
      });
    }
  }

  close(): void {
    this.bash.stdin.end();
    this.bash.kill();
  }
}
