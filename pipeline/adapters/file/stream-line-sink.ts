import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import type { Writable } from 'node:stream';
import type { LineSink } from '../../ports/line-sink.ts';

const FLUSH_AT = 1 << 16;

/** Lines to a writable stream (a file, or stdout), written in large pieces with backpressure. */
export class StreamLineSink implements LineSink {
  private buffer = '';
  private failure: Error | undefined;

  private constructor(
    private readonly stream: Writable,
    private readonly owned: boolean,
  ) {
    // Kept for flush/close to report: an unheard 'error' event would crash the process.
    stream.on('error', (error) => {
      this.failure = error;
    });
  }

  static toFile(path: string): StreamLineSink {
    return new StreamLineSink(createWriteStream(path), true);
  }

  static toStream(stream: Writable): StreamLineSink {
    return new StreamLineSink(stream, false);
  }

  writeLine(line: string): void {
    this.buffer += line + '\n';
    if (this.buffer.length >= FLUSH_AT) this.push();
  }

  async flush(): Promise<void> {
    this.push();
    if (this.failure !== undefined) throw this.failure;
    if (this.stream.writableNeedDrain) await once(this.stream, 'drain');
  }

  async close(): Promise<void> {
    await this.flush();
    if (!this.owned) return;
    this.stream.end();
    if (!this.stream.writableFinished) await once(this.stream, 'finish');
  }

  private push(): void {
    if (this.buffer === '') return;
    this.stream.write(this.buffer);
    this.buffer = '';
  }
}
