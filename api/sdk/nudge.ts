import type { InboxEntry, InboxMessage } from '../../pipeline/ports/inbox.ts';
import type {
  Flat,
  IngestResult,
  Preferences,
  PreferencesChange,
  PreferencesResult,
  PushResult,
} from './api-client.ts';
import type { StreamStatus } from './event-stream.ts';
import type { MetadataInput } from './metadata.ts';
import { isMetadata } from './metadata.ts';
import { NudgeError, isRecord } from './nudge-error.ts';
import type { SubscribePushOptions } from './push.ts';
import { subscribePush } from './push.ts';
import { Session } from './session.ts';
import type { Timings } from './timings.ts';
import { TimingLog } from './timings.ts';

/**
 * The browser SDK (README "Show messages in your app"), served bundled at `/sdk/nudge.js`. It adds
 * one global, `window.Nudge`, and never throws into the page: every failure is a rejected promise
 * carrying a `NudgeError`, every handler's error is caught and logged.
 */

export type BootOptions = {
  /** The API's address; the origin this script was loaded from when left out. */
  readonly api?: string;
  /** A publishable key of scope `client`. */
  readonly key: string;
  readonly userId: string;
  /** Hex HMAC-SHA256 of `userId` with the deployment's secret, computed by your server. */
  readonly userHash: string;
  /** How long boot waits for the API before it rejects with `unreachable` (ms, 15,000 by default). */
  readonly timeoutMs?: number;
  /**
   * `false` keeps the browser's timezone to itself. Otherwise boot identifies the user with it
   * (`timezone`, an IANA name) whenever it differs from the one last sent from this browser, so a
   * schedule in `"user"` time opens in the user's own hours.
   */
  readonly sendTimezone?: boolean;
};

const BOOT_TIMEOUT_MS = 15_000;

/** A message of the user's inbox, as `inbox()` and `onMessage` give it. */
export type NudgeMessage = InboxMessage & { readonly seen: boolean; readonly dismissed: boolean };

/** `idle` before boot; `connecting`, `connected`, `reconnecting` for the real-time connection; `refused` (key or hash); `stopped` after shutdown. */
export type NudgeStatus = 'idle' | StreamStatus;

export type NudgeApi = {
  boot(options: BootOptions): Promise<void>;
  /**
   * Tracks an event. Only the first 20 metadata keys, in the order sent, are usable in rules: an
   * object's keys go in JavaScript's order (integer-like keys such as "99" first); a `Map` or an
   * array of `[key, value]` pairs keeps its own order (`MetadataInput`).
   */
  track(name: string, metadata?: MetadataInput): Promise<IngestResult>;
  identify(attributes: Flat): Promise<IngestResult>;
  inbox(): Promise<NudgeMessage[]>;
  /** The user's opt-outs (`false` only), as the matcher applied them. */
  preferences(): Promise<Preferences>;
  /** `false` opts out of a channel or a message, `true` or `null` opts back in; applied within about a second. */
  setPreferences(change: PreferencesChange): Promise<PreferencesResult>;
  /** Subscribes this browser to Web Push for the user (or sends the subscription given). */
  subscribePush(options?: SubscribePushOptions): Promise<PushResult>;
  shutdown(): void;
  onMessage(handler: (message: NudgeMessage) => void): () => void;
  onStatus(handler: (status: NudgeStatus) => void): () => void;
  status(): NudgeStatus;
  /** The page's track and render times, for the in-app benchmark; `{ clear: true }` empties them after. */
  timings(options?: { clear?: boolean }): Timings;
  readonly NudgeError: typeof NudgeError;
};

declare global {
  interface Window {
    Nudge?: NudgeApi;
  }
}

/** Where this script came from: read now, `document.currentScript` is only set while it first runs. */
const scriptOrigin = (() => {
  const script = document.currentScript;
  try {
    return script instanceof HTMLScriptElement && script.src !== ''
      ? new URL(script.src).origin
      : location.origin;
  } catch {
    return location.origin;
  }
})();

const timings = new TimingLog();
const messageHandlers = new Set<(message: NudgeMessage) => void>();
const statusHandlers = new Set<(status: NudgeStatus) => void>();
let session: Session | undefined;
let status: NudgeStatus = 'idle';

/** Exactly the fields the inbox promises (the seq is the connection's business). */
const view = (entry: InboxEntry): NudgeMessage => ({
  decision_id: entry.decision_id,
  message_id: entry.message_id,
  channel: entry.channel,
  subject: entry.subject,
  body: entry.body,
  at: entry.at,
  seen: entry.seen,
  dismissed: entry.dismissed,
});

function emit<T>(handlers: Set<(value: T) => void>, value: T): void {
  for (const handler of handlers) {
    try {
      handler(value);
    } catch (error) {
      console.error('Nudge: a handler threw', error);
    }
  }
}

const invalid = (message: string) => Promise.reject(new NudgeError(0, 'invalid_argument', message));
const notBooted = () => Promise.reject(new NudgeError(0, 'not_booted', 'call Nudge.boot() first'));
const isText = (value: unknown): value is string => typeof value === 'string' && value !== '';

const Nudge: NudgeApi = {
  boot(options) {
    if (!isRecord(options) || !isText(options.key) || !isText(options.userId) || !isText(options.userHash))
      return invalid('boot needs { key, userId, userHash }, each a non-empty string');
    // Booting again (another user signed in) ends the session before.
    session?.stop();
    const api = (isText(options.api) ? options.api : scriptOrigin).replace(/\/+$/, '');
    session = new Session(
      { api, key: options.key, userId: options.userId, userHash: options.userHash },
      timings,
      {
        onMessage: (entry) => {
          emit(messageHandlers, view(entry));
        },
        onStatus: (next) => {
          status = next;
          emit(statusHandlers, next);
        },
      },
    );
    const timeoutMs =
      typeof options.timeoutMs === 'number' && options.timeoutMs > 0 ? options.timeoutMs : BOOT_TIMEOUT_MS;
    const booted = session.start(timeoutMs);
    if (options.sendTimezone !== false)
      void booted.then(() => session?.sendTimezone()).catch(() => undefined);
    return booted;
  },
  track(name, metadata) {
    if (!isText(name)) return invalid('track needs an event name');
    if (metadata !== undefined && !isMetadata(metadata))
      return invalid('metadata is an object of scalars, a Map, or an array of [key, value] pairs');
    return session?.track(name, metadata) ?? notBooted();
  },
  identify(attributes) {
    if (!isRecord(attributes)) return invalid('identify needs an object of attributes');
    return session?.identify(attributes) ?? notBooted();
  },
  async inbox() {
    if (session === undefined) return notBooted();
    return (await session.inbox()).map(view);
  },
  async preferences() {
    if (session === undefined) return notBooted();
    return session.userApi().preferences();
  },
  async setPreferences(change) {
    if (!isRecord(change)) return invalid('setPreferences needs { channels?, messages? }');
    if (session === undefined) return notBooted();
    return session.userApi().setPreferences(change);
  },
  async subscribePush(options) {
    if (options !== undefined && !isRecord(options))
      return invalid('subscribePush takes { subscription?, serviceWorker? }');
    if (session === undefined) return notBooted();
    return subscribePush(session.userApi(), options ?? {});
  },
  shutdown() {
    session?.stop();
    session = undefined;
  },
  onMessage(handler) {
    messageHandlers.add(handler);
    return () => {
      messageHandlers.delete(handler);
    };
  },
  onStatus(handler) {
    statusHandlers.add(handler);
    return () => {
      statusHandlers.delete(handler);
    };
  },
  status: () => status,
  timings: (options) => timings.snapshot(isRecord(options) && options['clear'] === true),
  NudgeError,
};

// A page that loads the script twice keeps the first, and its session.
window.Nudge ??= Nudge;
