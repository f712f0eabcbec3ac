import type { InboxAction, InboxEntry } from '../../pipeline/ports/inbox.ts';
import { RENDERED_CHANNELS } from '../../pipeline/ports/inbox.ts';
import type { Flat, Identity, IngestResult } from './api-client.ts';
import type { MetadataInput } from './metadata.ts';
import { ApiClient, isInboxEntry } from './api-client.ts';
import type { StreamStatus } from './event-stream.ts';
import { EventStream } from './event-stream.ts';
import { NudgeError } from './nudge-error.ts';
import { Renderer } from './render.ts';
import type { TimingLog } from './timings.ts';
import { epochNow } from './timings.ts';

/** What the page's handlers are told: the session's news. */
export type SessionEvents = {
  readonly onMessage: (entry: InboxEntry) => void;
  readonly onStatus: (status: StreamStatus) => void;
};

/** Tries of the inbox at boot when the answer is not a refusal (a restarting API, a 503), before boot gives up. */
const INBOX_TRIES = 3;
/** The API's bound on a string of `context`: a longer address is cut, not refused. */
const CONTEXT_STRING_MAX = 4_096;

/**
 * One booted user in one page: the real-time connection, the inbox as this page knows it, the
 * rendering, and the marks. Decisions of what to show:
 * - at boot, of the inbox's unseen and undismissed messages of the rendered channels, the newest
 *   of each channel is rendered (a send made while no page was open shows at the next boot; a
 *   dozen old banners in a row would not be a kindness); the rest stay in `inbox()`;
 * - in real time, every message of a rendered channel not yet dismissed is rendered, seen or not
 *   (another tab of the user may have shown it: every open page shows a send);
 * - a message rendered is marked seen, closed dismissed, clicked (or answered) clicked.
 */
export class Session {
  private readonly client: ApiClient;
  private readonly stream: EventStream;
  private readonly renderer: Renderer;
  private readonly timings: TimingLog;
  private readonly events: SessionEvents;
  /** Every message this page has had, by decision id: one delivered twice is handled once. */
  private readonly known = new Map<string, InboxEntry>();
  private booted = false;
  private stopped = false;
  private settle: { resolve: () => void; reject: (error: NudgeError) => void } | undefined;
  private bootTimer: ReturnType<typeof setTimeout> | undefined;
  private readonly api: string;
  private readonly userId: string;

  constructor(identity: Identity, timings: TimingLog, events: SessionEvents) {
    this.api = identity.api;
    this.userId = identity.userId;
    this.client = new ApiClient(identity);
    this.timings = timings;
    this.events = events;
    this.renderer = new Renderer({
      onShown: (entry) => {
        this.timings.shown(entry, epochNow());
        if (!entry.seen) this.mark(entry, 'seen');
      },
      onDismiss: (entry) => {
        this.mark(entry, 'dismissed');
      },
      onClick: (entry) => {
        this.mark(entry, 'clicked');
      },
      onAnswer: (entry, answer) => {
        this.track('survey-answered', {
          message_id: entry.message_id,
          decision_id: entry.decision_id,
          answer,
        }).catch(() => undefined);
      },
    });
    this.stream = new EventStream({
      url: this.client.url('/v1/client/stream'),
      headers: () => this.client.headers(),
      onReady: () => {
        if (this.booted) return;
        this.booted = true;
        this.firstReady().catch((error: unknown) => {
          this.fail(error instanceof NudgeError ? error : NudgeError.network(error));
        });
      },
      onMessage: (data) => {
        this.arrived(data);
      },
      onStatus: (status) => {
        this.events.onStatus(status);
      },
      onRefused: (error) => {
        this.fail(error);
      },
    });
  }

  /** Resolves once the stream is open and the inbox loaded; rejects when the key or the hash is refused. */
  start(timeoutMs: number): Promise<void> {
    return new Promise((resolve, reject) => {
      this.settle = { resolve, reject };
      this.renderer.mount();
      this.stream.start();
      // A stream that cannot connect keeps trying; the page's `await Nudge.boot()` must not wait forever.
      this.bootTimer = setTimeout(() => {
        if (this.settle === undefined) return;
        this.fail(
          new NudgeError(
            0,
            'unreachable',
            `the Nudge API did not answer within ${String(Math.round(timeoutMs / 1000))} s (is ${this.api} reachable from this page?)`,
          ),
        );
      }, timeoutMs);
    });
  }

  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    clearTimeout(this.bootTimer);
    this.stream.stop();
    this.renderer.unmount();
    this.settle?.reject(new NudgeError(0, 'shut_down', 'Nudge.shutdown() was called before boot finished'));
    this.settle = undefined;
  }

  track(name: string, metadata?: MetadataInput): Promise<IngestResult> {
    if (this.stopped) return Promise.reject(new NudgeError(0, 'shut_down', 'Nudge was shut down'));
    // The id is the page's, so the benchmark's track → rendered time is known before the answer
    // comes (the send may come first), and a retried request is one entry.
    const id = newId();
    const timing = this.timings.tracked(id, epochNow());
    const context: Flat = {
      url: location.href.slice(0, CONTEXT_STRING_MAX),
      time_on_page_s: Math.floor(performance.now() / 1000),
    };
    const answer = this.client.track(
      metadata === undefined ? { id, name, context } : { id, name, metadata, context },
    );
    return answer.then((result) => {
      timing.answered_at = epochNow();
      return result;
    });
  }

  /**
   * Identifies the user with the browser's timezone when it is not the one last sent for this user
   * from this browser (kept in localStorage): one `identify` when it changes, not one a page load.
   */
  async sendTimezone(): Promise<void> {
    const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
    if (typeof zone !== 'string' || zone === '' || this.stopped) return;
    const key = `nudge:timezone:${this.userId}`;
    const sent = readStorage(key);
    if (sent === zone) return;
    await this.client.identify({ timezone: zone });
    writeStorage(key, zone);
  }

  identify(attributes: Flat): Promise<IngestResult> {
    if (this.stopped) return Promise.reject(new NudgeError(0, 'shut_down', 'Nudge was shut down'));
    return this.client.identify(attributes);
  }

  /** The booted user's API, for the calls outside the session's own (preferences, push). */
  userApi(): ApiClient {
    if (this.stopped) throw new NudgeError(0, 'shut_down', 'Nudge was shut down');
    return this.client;
  }

  /** The inbox as the API keeps it (every in-app channel, seen and dismissed as any page marked them), newest first. */
  async inbox(): Promise<InboxEntry[]> {
    if (this.stopped) throw new NudgeError(0, 'shut_down', 'Nudge was shut down');
    const entries = await this.client.inbox();
    for (const entry of entries)
      if (!this.known.has(entry.decision_id)) this.known.set(entry.decision_id, entry);
    return entries;
  }

  private async firstReady(): Promise<void> {
    let entries: InboxEntry[] | undefined;
    for (let tries = 1; entries === undefined; tries++) {
      try {
        entries = await this.client.inbox();
      } catch (error) {
        const failure = error instanceof NudgeError ? error : NudgeError.network(error);
        if (failure.refused || tries === INBOX_TRIES) {
          this.fail(failure);
          return;
        }
        await new Promise((resolve) => setTimeout(resolve, 500 * 2 ** tries));
      }
      if (this.stopped) return;
    }
    this.showAtBoot(entries);
    clearTimeout(this.bootTimer);
    this.settle?.resolve();
    this.settle = undefined;
  }

  /** The newest unseen, undismissed message of each rendered channel, oldest of them first (the newest ends nearest the corner). */
  private showAtBoot(entries: readonly InboxEntry[]): void {
    const newest = new Map<string, InboxEntry>();
    for (const entry of entries) {
      const had = this.known.has(entry.decision_id);
      if (!had) this.known.set(entry.decision_id, entry);
      if (had || entry.seen || entry.dismissed || !RENDERED_CHANNELS.includes(entry.channel)) continue;
      const before = newest.get(entry.channel);
      if (before === undefined || entry.seq > before.seq) newest.set(entry.channel, entry);
    }
    for (const entry of [...newest.values()].sort((a, b) => a.seq - b.seq)) this.renderer.show(entry);
  }

  private arrived(data: string): void {
    let parsed: unknown;
    try {
      parsed = JSON.parse(data);
    } catch {
      return;
    }
    if (!isInboxEntry(parsed) || this.known.has(parsed.decision_id)) return;
    this.known.set(parsed.decision_id, parsed);
    if (!parsed.dismissed) this.renderer.show(parsed);
    this.events.onMessage(parsed);
  }

  /** Records what the person did; a failure is dropped (the page is never troubled by it, the funnel misses one). */
  private mark(entry: InboxEntry, action: InboxAction): void {
    const known = this.known.get(entry.decision_id) ?? entry;
    this.known.set(entry.decision_id, {
      ...known,
      seen: true,
      dismissed: known.dismissed || action === 'dismissed',
    });
    this.client.mark(entry.decision_id, action).catch(() => undefined);
  }

  private fail(error: NudgeError): void {
    const settle = this.settle;
    this.settle = undefined;
    this.stop();
    settle?.reject(error);
  }
}

/** A v4 UUID: `crypto.randomUUID` exists only on https and localhost pages, `getRandomValues` everywhere. */
function newId(): string {
  if (isSecureContext) return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[6] = ((bytes[6] ?? 0) & 0x0f) | 0x40;
  bytes[8] = ((bytes[8] ?? 0) & 0x3f) | 0x80;
  const hex = Array.from(bytes, (byte) => byte.toString(16).padStart(2, '0')).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** localStorage, which a page may forbid (privacy modes, sandboxed frames): then nothing is kept. */
function readStorage(key: string): string | null {
  try {
    return localStorage.getItem(key);
  } catch {
    return null;
  }
}

function writeStorage(key: string, value: string): void {
  try {
    localStorage.setItem(key, value);
  } catch {
    // Not kept: the zone is sent again at the next boot, which is harmless.
  }
}
