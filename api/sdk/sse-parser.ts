/** One server-sent event: its type (`message` when the frame names none), its data, and its own `id:` line if it had one. */
export type SseFrame = { readonly event: string; readonly data: string; readonly id: string | undefined };

/**
 * The `text/event-stream` format as the HTML standard parses it, fed text as it arrives (a
 * chunk may end anywhere, in a line or between the `\r` and `\n` of one line break). A frame is
 * dispatched at its blank line; comment lines (`: keep-alive`) only show the connection is alive;
 * `retry:` is ignored (the SDK keeps its own backoff). Unlike EventSource, a frame's id is its own
 * (not carried over to the next): the SDK's ids are inbox seqs, which only message frames carry.
 */
export class SseParser {
  private buffer = '';
  private event = '';
  private data: string[] = [];
  private id: string | undefined;
  private readonly onFrame: (frame: SseFrame) => void;

  constructor(onFrame: (frame: SseFrame) => void) {
    this.onFrame = onFrame;
  }

  push(text: string): void {
    this.buffer += text;
    let start = 0;
    for (;;) {
      const end = lineEnd(this.buffer, start);
      if (end === undefined) break;
      this.line(this.buffer.slice(start, end.at));
      start = end.next;
    }
    this.buffer = this.buffer.slice(start);
  }

  private line(line: string): void {
    if (line === '') {
      this.dispatch();
      return;
    }
    if (line.startsWith(':')) return;
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'event') this.event = value;
    else if (field === 'data') this.data.push(value);
    else if (field === 'id' && !value.includes('\0')) this.id = value;
  }

  private dispatch(): void {
    const frame: SseFrame = { event: this.event || 'message', data: this.data.join('\n'), id: this.id };
    const hadData = this.data.length > 0;
    this.event = '';
    this.data = [];
    this.id = undefined;
    if (hadData) this.onFrame(frame);
  }
}

/**
 * Where the next full line of `text` from `start` ends, and where the one after begins; undefined
 * while the line is not complete (a `\r` last in the buffer may be the first half of `\r\n`).
 */
function lineEnd(text: string, start: number): { at: number; next: number } | undefined {
  for (let i = start; i < text.length; i++) {
    const char = text[i];
    if (char === '\n') return { at: i, next: i + 1 };
    if (char === '\r') {
      if (i + 1 === text.length) return undefined;
      return { at: i, next: text[i + 1] === '\n' ? i + 2 : i + 1 };
    }
  }
  return undefined;
}
