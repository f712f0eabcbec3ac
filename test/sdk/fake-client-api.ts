import type { ServerResponse } from 'node:http';
import type { FastifyInstance } from 'fastify';
import type { InboxEntry, InboxMessage } from '../../pipeline/ports/inbox.ts';

/** The only user the fake knows, and the hash it takes for them. */
export const USER = 'user-1';
export const GOOD_HASH = 'good-hash';
export const KEY = 'nk_client_test';

export type Recorded = { readonly method: string; readonly url: string; readonly body: unknown };
export type Tracked = {
  readonly id: string;
  readonly name: string;
  readonly metadata?: Record<string, unknown>;
  readonly context: Record<string, unknown>;
};

/**
 * The client routes of the shared contract (/tmp/contract-16.md, README "Show messages in your
 * app") as an in-memory fake for the SDK's browser tests: the SDK's whole path — stream, inbox,
 * marks, track — runs against it without NATS, Redis or ClickHouse. The real routes are tested
 * against the real services elsewhere (test/api/client-routes.live.test.ts).
 */
export class FakeClientApi {
  /** The user's inbox, oldest first. */
  readonly entries: InboxEntry[] = [];
  readonly requests: Recorded[] = [];
  /** The `Last-Event-ID` of each stream request (undefined when it had none), in order. */
  readonly streamAsks: (string | undefined)[] = [];
  /** What a tracked event brings, as the matcher would: called with each `POST /v1/client/events` body. */
  onTrack: (body: Tracked) => void = () => undefined;
  private readonly open = new Set<ServerResponse>();

  /** Puts a message in the inbox and, like the API's feed, on every open stream. */
  add(message: Omit<InboxMessage, 'at'> & { at?: number }, state: Partial<InboxEntry> = {}): InboxEntry {
    const entry: InboxEntry = {
      at: Date.now(),
      ...message,
      seq: this.entries.length + 1,
      seen: false,
      dismissed: false,
      ...state,
    };
    this.entries.push(entry);
    for (const stream of this.open) stream.write(frame(entry));
    return entry;
  }

  /** Sends an entry again on every open stream (an `add` repeated upstream). */
  repeat(entry: InboxEntry): void {
    for (const stream of this.open) stream.write(frame(entry));
  }

  /** Ends every open stream, as an API process going away does. */
  drop(): void {
    for (const stream of this.open) stream.end();
    this.open.clear();
  }

  get connections(): number {
    return this.open.size;
  }

  marks(action?: string): string[] {
    return this.requests
      .filter(
        (r) =>
          r.url.startsWith('/v1/client/inbox/') && (action === undefined || r.url.endsWith(`/${action}`)),
      )
      .map((r) => decodeURIComponent(r.url.split('/')[4] ?? ''));
  }

  tracks(): Tracked[] {
    return this.requests.filter((r) => r.url === '/v1/client/events').map((r) => r.body as Tracked);
  }

  register(app: FastifyInstance): void {
    app.addHook('onRequest', async (request, reply) => {
      if (!request.url.startsWith('/v1/client/')) return;
      const user = decodeURIComponent(String(request.headers['x-nudge-user-id'] ?? ''));
      if (request.headers.authorization !== `Bearer ${KEY}` || user === '')
        return reply
          .code(401)
          .send({ error: { code: 'unauthorized', message: 'a client key and a user are needed' } });
      if (user !== USER || request.headers['x-nudge-user-hash'] !== GOOD_HASH)
        return reply.code(403).send({
          error: { code: 'user_not_verified', message: 'the user hash does not match the user id' },
        });
      return undefined;
    });
    app.addHook('preHandler', (request, _reply, done) => {
      this.requests.push({ method: request.method, url: request.url, body: request.body });
      done();
    });
    app.get('/v1/client/stream', (request, reply) => {
      const last = request.headers['last-event-id'];
      this.streamAsks.push(typeof last === 'string' ? last : undefined);
      reply.hijack();
      const stream = reply.raw;
      stream.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store' });
      if (typeof last === 'string')
        for (const entry of this.entries.filter((e) => e.seq > Number(last))) stream.write(frame(entry));
      stream.write(
        `event: ready\ndata: ${JSON.stringify({ last_seq: this.entries.length })}\n\n: keep-alive\n\n`,
      );
      this.open.add(stream);
      stream.on('close', () => this.open.delete(stream));
    });
    app.get('/v1/client/inbox', (_request, reply) =>
      reply.send({ messages: this.entries.slice().reverse() }),
    );
    app.post<{ Params: { decision: string; action: 'seen' | 'dismissed' | 'clicked' } }>(
      '/v1/client/inbox/:decision/:action',
      async (request, reply) => {
        const { decision, action } = request.params;
        const index = this.entries.findIndex((e) => e.decision_id === decision);
        const entry = this.entries[index];
        if (entry === undefined)
          return reply.code(404).send({ error: { code: 'not_found', message: 'no such message' } });
        this.entries[index] = { ...entry, seen: true, dismissed: entry.dismissed || action === 'dismissed' };
        return { decision_id: decision, action, first: true };
      },
    );
    app.post('/v1/client/identify', (_request, reply) =>
      reply.code(202).send({ id: 'identify', status: 'accepted', received_at: Date.now() }),
    );
    app.post<{ Body: Tracked }>('/v1/client/events', async (request, reply) => {
      this.onTrack(request.body);
      return reply.code(202).send({ id: request.body.id, status: 'accepted', received_at: Date.now() });
    });
  }

  identifies(): Record<string, unknown>[] {
    return this.requests
      .filter((r) => r.url === '/v1/client/identify')
      .map((r) => (r.body as { attributes: Record<string, unknown> }).attributes);
  }

  close(): void {
    this.drop();
  }
}

const frame = (entry: InboxEntry) => `id: ${entry.seq}\nevent: message\ndata: ${JSON.stringify(entry)}\n\n`;
