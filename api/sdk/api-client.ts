import type { InboxAction, InboxEntry } from '../../pipeline/ports/inbox.ts';
import type { TrackBody } from './metadata.ts';
import { trackBody } from './metadata.ts';
import { NudgeError, isRecord } from './nudge-error.ts';

/** Who the page speaks for: the API, its publishable `client` key, and the user as the customer's server vouched for them. */
export type Identity = {
  /** The API's origin (and path prefix, if any), without a trailing slash. */
  readonly api: string;
  readonly key: string;
  readonly userId: string;
  /** Hex HMAC-SHA256 of the user id with the deployment's secret, computed by the customer's server. */
  readonly userHash: string;
};

/** The ingest answer, as the API gives it (`POST /v1/client/events`). */
export type IngestResult = {
  readonly id: string;
  readonly status: 'accepted' | 'duplicate';
  readonly received_at: number;
  readonly warnings?: unknown[];
};

type Scalar = string | number | boolean | null;
export type Flat = Record<string, Scalar>;

/** A user's opt-outs, as `GET /v1/users/:id/preferences` lists them: only what is `false`. */
export type Preferences = {
  readonly channels: Readonly<Record<string, false>>;
  readonly messages: Readonly<Record<string, false>>;
};

/** A change of preferences: `false` opts out, `true` or `null` opts back in, what is left out stays. */
export type PreferencesChange = {
  readonly channels?: Readonly<Record<string, boolean | null>>;
  readonly messages?: Readonly<Record<string, boolean | null>>;
};

/** The answer to a change: the id of its entry on the log, and the change as stored. */
export type PreferencesResult = {
  readonly id: string;
  readonly preferences: Required<PreferencesChange>;
};

/** A browser's push subscription as the API takes it (`PushSubscription.toJSON()` less `expirationTime`). */
export type PushSubscriptionWire = {
  readonly endpoint: string;
  readonly keys: { readonly p256dh: string; readonly auth: string };
};

/** The answer to a push subscription added: the id of its entry on the log, and the subscription. */
export type PushResult = {
  readonly id: string;
  readonly action: 'add' | 'remove';
  readonly subscription: PushSubscriptionWire;
};

/**
 * The routes of the API a page calls (`/v1/client/*`, and its user's preferences), each request
 * carrying the key and the verified user. Every failure rejects with a `NudgeError`; nothing here
 * touches the page.
 */
export class ApiClient {
  readonly identity: Identity;

  constructor(identity: Identity) {
    this.identity = identity;
  }

  /** The headers that name the key and the user: every request's, the stream's included. */
  headers(): Record<string, string> {
    return {
      authorization: `Bearer ${this.identity.key}`,
      // Encoded: a header value is Latin-1, a user id may be any text.
      'x-nudge-user-id': encodeURIComponent(this.identity.userId),
      'x-nudge-user-hash': this.identity.userHash,
    };
  }

  url(path: string): string {
    return `${this.identity.api}${path}`;
  }

  /** Metadata in the order sent (`trackBody`): a `Map`'s or pairs' own, an object's as JavaScript lists it. */
  track(body: TrackBody): Promise<IngestResult> {
    return this.sendText<IngestResult>('POST', '/v1/client/events', trackBody(body));
  }

  identify(attributes: Flat): Promise<IngestResult> {
    return this.send<IngestResult>('POST', '/v1/client/identify', { attributes });
  }

  async inbox(): Promise<InboxEntry[]> {
    const answer = await this.send<unknown>('GET', '/v1/client/inbox');
    const messages = isRecord(answer) && Array.isArray(answer['messages']) ? answer['messages'] : [];
    return messages.filter(isInboxEntry);
  }

  /** The user's opt-outs: the one route outside `/v1/client` a client key reaches, for its own user. */
  async preferences(): Promise<Preferences> {
    const answer = await this.send<unknown>('GET', this.preferencesPath());
    const listed = (key: string) => {
      const value = isRecord(answer) ? answer[key] : undefined;
      return isRecord(value) ? onlyFalse(value) : {};
    };
    return { channels: listed('channels'), messages: listed('messages') };
  }

  setPreferences(change: PreferencesChange): Promise<PreferencesResult> {
    return this.send<PreferencesResult>('PUT', this.preferencesPath(), change);
  }

  /** The VAPID public key (base64url) the browser subscribes with. */
  async pushKey(): Promise<string> {
    const answer = await this.send<unknown>('GET', '/v1/client/push/key');
    const key = isRecord(answer) ? answer['public_key'] : undefined;
    if (typeof key !== 'string' || key === '')
      throw new NudgeError(0, 'push_not_configured', 'the API gave no VAPID public key');
    return key;
  }

  addPushSubscription(subscription: PushSubscriptionWire): Promise<PushResult> {
    return this.send<PushResult>('POST', '/v1/client/push/subscriptions', { subscription });
  }

  private preferencesPath(): string {
    return `/v1/users/${encodeURIComponent(this.identity.userId)}/preferences`;
  }

  /**
   * Tells the inbox what the person did with a message. `keepalive`: a close or a click just
   * before the page is left is still recorded.
   */
  async mark(decisionId: string, action: InboxAction): Promise<void> {
    await this.send('POST', `/v1/client/inbox/${encodeURIComponent(decisionId)}/${action}`, undefined, true);
  }

  private send<T>(method: string, path: string, body?: unknown, keepalive = false): Promise<T> {
    return this.sendText<T>(method, path, body === undefined ? undefined : JSON.stringify(body), keepalive);
  }

  private async sendText<T>(method: string, path: string, text?: string, keepalive = false): Promise<T> {
    const headers = this.headers();
    if (text !== undefined) headers['content-type'] = 'application/json';
    let response: Response;
    try {
      response = await fetch(this.url(path), {
        method,
        headers,
        body: text ?? null,
        keepalive,
        cache: 'no-store',
        credentials: 'omit',
      });
    } catch (error) {
      throw NudgeError.network(error);
    }
    if (!response.ok) throw await NudgeError.fromResponse(response);
    try {
      return (await response.json()) as T;
    } catch (error) {
      throw NudgeError.network(error);
    }
  }
}

/** Only the `false` choices (an answer of a newer API may list more). */
function onlyFalse(choices: Record<string, unknown>): Record<string, false> {
  const listed: [string, false][] = [];
  for (const key of Object.keys(choices)) if (choices[key] === false) listed.push([key, false]);
  return Object.fromEntries(listed);
}

/** An inbox entry as the API sends it; anything else (a newer API's shape gone wrong) is left out, never rendered. */
export function isInboxEntry(value: unknown): value is InboxEntry {
  return (
    isRecord(value) &&
    typeof value['decision_id'] === 'string' &&
    typeof value['message_id'] === 'string' &&
    typeof value['channel'] === 'string' &&
    (typeof value['subject'] === 'string' || value['subject'] === null) &&
    typeof value['body'] === 'string' &&
    typeof value['at'] === 'number' &&
    typeof value['seq'] === 'number' &&
    typeof value['seen'] === 'boolean' &&
    typeof value['dismissed'] === 'boolean'
  );
}
