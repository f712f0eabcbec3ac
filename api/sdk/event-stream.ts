import { NudgeError, isRecord } from './nudge-error.ts';
import type { SseFrame } from './sse-parser.ts';
import { SseParser } from './sse-parser.ts';

export type StreamStatus = 'connecting' | 'connected' | 'reconnecting' | 'refused' | 'stopped';

export type EventStreamOptions = {
  readonly url: string;
  /** Asked at every (re)connection. */
  readonly headers: () => Record<string, string>;
  /** The server's `ready` frame: subscribed, the user's newest seq then being `lastSeq`. */
  readonly onReady: (lastSeq: number) => void;
  /** A `message` frame's data, at most once per seq. */
  readonly onMessage: (data: string, seq: number) => void;
  readonly onStatus: (status: StreamStatus) => void;
  /** A 401 or 403: the stream has stopped for good. */
  readonly onRefused: (error: NudgeError) => void;
};

const FIRST_DELAY_MS = 500;
const MAX_DELAY_MS = 10_000;
/** The server comments every 20 s: this long without a byte is a connection that died without closing. */
const SILENCE_MS = 45_000;
/** Seqs remembered to drop repeats; older ones are dropped by `floor`. */
const REMEMBERED = 1_000;

/**
 * The real-time connection: server-sent events read with fetch() (EventSource cannot send the
 * key and the user's headers). It reconnects after a network error, an answer that is not a
 * refusal, or the stream's end, waiting 0.5 s doubling to 10 s (half of it random, so pages cut
 * off together do not come back together), and asks for what it missed with `Last-Event-ID` (the
 * newest inbox seq it had). A 401 or 403 stops it. It hands each seq once, however often the
 * server sends it (an inbox `add` repeated, or a replay overlapping a live send).
 */
export class EventStream {
  private readonly options: EventStreamOptions;
  /** Seqs at or below are never handed: the inbox read at boot had them, or they are long past. */
  private floor: number | undefined;
  private readonly handed = new Set<number>();
  private newest = 0;
  private attempt = 0;
  private stopped = false;
  private connection: AbortController | undefined;
  private silence: ReturnType<typeof setTimeout> | undefined;
  private wake: (() => void) | undefined;

  constructor(options: EventStreamOptions) {
    this.options = options;
  }

  start(): void {
    void this.run();
  }

  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.connection?.abort();
    this.wake?.();
    this.options.onStatus('stopped');
  }

  /** A call, not the field: `stop()` may have run while this awaited. */
  private running(): boolean {
    return !this.stopped;
  }

  /** What `Last-Event-ID` says: the newest seq had, once there is one (after the first `ready`). */
  private lastSeq(): number | undefined {
    return this.floor === undefined ? undefined : Math.max(this.floor, this.newest);
  }

  private async run(): Promise<void> {
    let status: StreamStatus = 'connecting';
    while (this.running()) {
      this.options.onStatus(status);
      const outcome = await this.connect();
      if (!this.running()) return;
      if (outcome instanceof NudgeError) {
        this.stopped = true;
        this.options.onStatus('refused');
        this.options.onRefused(outcome);
        return;
      }
      status = 'reconnecting';
      await this.pause(Math.max(this.backoff(), outcome));
    }
  }

  /** One connection, until it ends: a refusal, or how long the server asked to wait before the next (0: no word). */
  private async connect(): Promise<NudgeError | number> {
    const connection = new AbortController();
    this.connection = connection;
    const headers: Record<string, string> = { ...this.options.headers(), accept: 'text/event-stream' };
    const lastSeq = this.lastSeq();
    if (lastSeq !== undefined) headers['last-event-id'] = String(lastSeq);
    try {
      const response = await fetch(this.options.url, {
        headers,
        signal: connection.signal,
        cache: 'no-store',
        credentials: 'omit',
      });
      if (!response.ok) {
        const error = await NudgeError.fromResponse(response);
        return error.refused ? error : retryAfterMs(response);
      }
      if (response.body !== null) await this.read(response.body, connection);
    } catch {
      // A network error, or the connection aborted (stopped, or silent too long): tried again unless stopped.
    } finally {
      clearTimeout(this.silence);
      connection.abort();
    }
    return 0;
  }

  private async read(body: ReadableStream<Uint8Array>, connection: AbortController): Promise<void> {
    const reader = body.getReader();
    const decoder = new TextDecoder();
    const parser = new SseParser((frame) => {
      this.frame(frame);
    });
    for (;;) {
      clearTimeout(this.silence);
      this.silence = setTimeout(() => {
        connection.abort();
      }, SILENCE_MS);
      const { done, value } = await reader.read();
      if (done || this.stopped) return;
      parser.push(decoder.decode(value, { stream: true }));
    }
  }

  private frame(frame: SseFrame): void {
    if (this.stopped) return;
    if (frame.event === 'ready') this.ready(frame.data);
    else if (frame.event === 'message') this.message(frame);
  }

  private ready(data: string): void {
    let lastSeq = 0;
    try {
      const parsed: unknown = JSON.parse(data);
      if (isRecord(parsed) && typeof parsed['last_seq'] === 'number') lastSeq = parsed['last_seq'];
    } catch {
      // A ready frame without its seq still means subscribed.
    }
    // Only the first: without Last-Event-ID the server replays nothing, so everything up to
    // `last_seq` is the inbox's to give. After a reconnection what came before is being replayed.
    this.floor ??= lastSeq;
    this.attempt = 0;
    this.options.onStatus('connected');
    this.options.onReady(lastSeq);
  }

  private message(frame: SseFrame): void {
    const seq = Number(frame.id);
    if (!Number.isSafeInteger(seq) || seq <= (this.floor ?? 0) || this.handed.has(seq)) return;
    this.handed.add(seq);
    this.newest = Math.max(this.newest, seq);
    if (this.handed.size > REMEMBERED) this.forgetOldest();
    this.options.onMessage(frame.data, seq);
  }

  /** Keeps the newest half of the seqs handed; the rest are below `floor` from now on. */
  private forgetOldest(): void {
    const sorted = [...this.handed].sort((a, b) => a - b);
    const dropped = sorted.slice(0, sorted.length - REMEMBERED / 2);
    for (const seq of dropped) this.handed.delete(seq);
    this.floor = Math.max(this.floor ?? 0, dropped[dropped.length - 1] ?? 0);
  }

  private backoff(): number {
    const delay = Math.min(MAX_DELAY_MS, FIRST_DELAY_MS * 2 ** this.attempt);
    this.attempt++;
    return delay / 2 + (Math.random() * delay) / 2;
  }

  /** Waits, cut short by `stop()` or by the browser coming back online. */
  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        window.removeEventListener('online', done);
        this.wake = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      window.addEventListener('online', done);
      this.wake = done;
    });
  }
}

/** A 429's or 503's `Retry-After` in seconds, as ms (0 without one), at most a minute. */
function retryAfterMs(response: Response): number {
  const seconds = Number(response.headers.get('retry-after'));
  return Number.isFinite(seconds) && seconds > 0 ? Math.min(seconds, 60) * 1000 : 0;
}
