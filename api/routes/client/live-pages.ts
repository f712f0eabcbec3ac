import type { ServerResponse } from 'node:http';
import type { InAppNotice, InboxEntry } from '../../../pipeline/ports/inbox.ts';

/** A page whose connection has this much unsent is too slow to keep: it reconnects and catches up. */
const MAX_UNSENT_BYTES = 1024 * 1024;

/** Proxies and load balancers close a connection idle for a minute or so: a comment keeps it busy. */
export const KEEP_ALIVE_MS = 20_000;

/**
 * One open page of a user: its server-sent-events connection. It never writes the same message
 * twice, nor one older than it was told of: what it has sent is named by the inbox's seq. While
 * it catches up (the inbox read after a reconnect), messages that arrive live wait.
 */
export class LivePage {
  private waiting: InboxEntry[] | undefined = [];

  constructor(
    readonly userId: string,
    private readonly response: ServerResponse,
    /** The newest seq the page has: nothing at or below it is sent. */
    private lastSeq: number,
  ) {}

  /** A message that just arrived (every API process hears every one; the page may have it already). */
  deliver(entry: InboxEntry): void {
    if (this.waiting === undefined) this.write(entry);
    else this.waiting.push(entry);
  }

  /** Caught up: what the inbox held after the page's last seq, then `ready`, then what arrived meanwhile. */
  caughtUp(backlog: readonly InboxEntry[], newestSeq: number): void {
    for (const entry of [...backlog].sort((a, b) => a.seq - b.seq)) this.write(entry);
    this.lastSeq = Math.max(this.lastSeq, newestSeq);
    this.frame(`event: ready\ndata: ${JSON.stringify({ last_seq: this.lastSeq })}\n\n`);
    const waiting = this.waiting ?? [];
    this.waiting = undefined;
    for (const entry of waiting) this.write(entry);
  }

  keepAlive(): void {
    this.frame(': keep-alive\n\n');
  }

  end(): void {
    this.response.end();
  }

  private write(entry: InboxEntry): void {
    if (entry.seq <= this.lastSeq) return;
    this.lastSeq = entry.seq;
    this.frame(`id: ${entry.seq}\nevent: message\ndata: ${JSON.stringify(entry)}\n\n`);
  }

  private frame(text: string): void {
    if (this.response.writableEnded || this.response.destroyed) return;
    if (this.response.writableLength > MAX_UNSENT_BYTES) {
      this.response.destroy();
      return;
    }
    this.response.write(text);
  }
}

/**
 * The open pages of this API process, by user: each in-app send heard on the feed goes to the
 * pages of its user here (every API process hears every send, so any process a page reached
 * delivers to it).
 */
export class LivePages {
  private readonly byUser = new Map<string, Set<LivePage>>();
  private readonly timer: NodeJS.Timeout;

  constructor(
    /** Told the number of open pages as it changes (`nudge_inapp_connections`). */
    private readonly gauge: { set(value: number): void },
    keepAliveMs = KEEP_ALIVE_MS,
  ) {
    // One timer for every page: ten thousand connections are not ten thousand timers.
    this.timer = setInterval(() => {
      for (const pages of this.byUser.values()) for (const page of pages) page.keepAlive();
    }, keepAliveMs);
    this.timer.unref();
  }

  private open = 0;

  add(page: LivePage): void {
    const pages = this.byUser.get(page.userId);
    if (pages === undefined) this.byUser.set(page.userId, new Set([page]));
    else if (!pages.has(page)) pages.add(page);
    else return;
    this.gauge.set(++this.open);
  }

  remove(page: LivePage): void {
    const pages = this.byUser.get(page.userId);
    if (pages?.delete(page) !== true) return;
    if (pages.size === 0) this.byUser.delete(page.userId);
    this.gauge.set(--this.open);
  }

  deliver(notice: InAppNotice): void {
    const pages = this.byUser.get(notice.user_id);
    if (pages !== undefined) for (const page of pages) page.deliver(notice.entry);
  }

  /** Closes every connection (the process is stopping: pages reconnect elsewhere and catch up). */
  endAll(): void {
    clearInterval(this.timer);
    for (const pages of this.byUser.values()) for (const page of pages) page.end();
    this.byUser.clear();
    this.open = 0;
    this.gauge.set(0);
  }
}
