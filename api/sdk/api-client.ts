import type { InboxAction, InboxEntry } from '../../pipeline/ports/inbox.ts';
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

/**
 * The client routes of the API (`/v1/client/*`), each request carrying the key and the verified
 * user. Every failure rejects with a `NudgeError`; nothing here touches the page.
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

  track(body: { id: string; name: string; metadata?: Flat; context: Flat }): Promise<IngestResult> {
    return this.send<IngestResult>('POST', '/v1/client/events', body);
  }

  identify(attributes: Flat): Promise<IngestResult> {
    return this.send<IngestResult>('POST', '/v1/client/identify', { attributes });
  }

  async inbox(): Promise<InboxEntry[]> {
    const answer = await this.send<unknown>('GET', '/v1/client/inbox');
    const messages = isRecord(answer) && Array.isArray(answer['messages']) ? answer['messages'] : [];
    return messages.filter(isInboxEntry);
  }

  /**
   * Tells the inbox what the person did with a message. `keepalive`: a close or a click just
   * before the page is left is still recorded.
   */
  async mark(decisionId: string, action: InboxAction): Promise<void> {
    await this.send('POST', `/v1/client/inbox/${encodeURIComponent(decisionId)}/${action}`, undefined, true);
  }

  private async send<T>(method: string, path: string, body?: unknown, keepalive = false): Promise<T> {
    const headers = this.headers();
    if (body !== undefined) headers['content-type'] = 'application/json';
    let response: Response;
    try {
      response = await fetch(this.url(path), {
        method,
        headers,
        body: body === undefined ? null : JSON.stringify(body),
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
