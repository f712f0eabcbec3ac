import { createHash, randomUUID } from 'node:crypto';
import type { FastifyPluginCallback, FastifyReply, FastifyRequest } from 'fastify';
import type { PreferencesEntry } from '../../../pipeline/core/log-entry.ts';
import type { Channel } from '../../../pipeline/core/message-schema.ts';
import type { EntryLog } from '../../../pipeline/ports/entry-log.ts';
import type { MessageCatalog } from '../../../pipeline/ports/message-catalog.ts';
import type { UnsubscribeLinks } from '../../auth/unsubscribe-links.ts';
import type { UnsubscribeTarget } from '../../auth/unsubscribe-token.ts';
import { ApiError } from '../../errors.ts';
import type { Page, UnsubscribeScope } from './unsubscribe-page.ts';
import {
  choicePage,
  donePage,
  doneText,
  invalidLinkPage,
  PAGE_HEADERS,
  retryPage,
} from './unsubscribe-page.ts';

export type UnsubscribeDeps = {
  /** Where the opt-out goes: a `preferences` entry, which the matcher applies like any other. */
  readonly log: EntryLog;
  /** Only to name the message on the page; its id stands in when the catalog has none or does not answer. */
  readonly catalog: Pick<MessageCatalog, 'latest'>;
  readonly links: UnsubscribeLinks;
  /** The API's clock: `received_at` of the entry. */
  readonly now: () => number;
};

/** A one-click body is one short field; a browser's form, one more. Anything larger is not one of ours. */
const BODY_LIMIT = 4_096;
type Params = { readonly token: string };

/**
 * The unsubscribe link of every mail (README "Deliveries"), with no API key: the signed token in
 * the path is the credential, and the only thing it can do is opt its user out, so a request
 * forged from another site (CSRF) or a leaked link can do nothing worse than unsubscribe.
 * `GET` shows a page and changes nothing (link scanners and previews follow links); `POST` is
 * RFC 8058's one-click unsubscribe, which mailbox providers send with the body
 * `List-Unsubscribe=One-Click` (form-encoded or multipart): any body is accepted, and only the
 * page's own form field `scope=channel` widens it from the message to all email.
 */
export const unsubscribeRoutes: FastifyPluginCallback<UnsubscribeDeps> = (app, deps, done) => {
  // Here only (fastify encapsulates parsers): any body is read and set aside, except a form's fields.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser(
    'application/x-www-form-urlencoded',
    { parseAs: 'string', bodyLimit: BODY_LIMIT },
    (_request, body, done) => {
      done(null, new URLSearchParams(body as string));
    },
  );
  app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: BODY_LIMIT }, (_request, _body, done) => {
    done(null, undefined);
  });

  app.get<{ Params: Params }>(
    '/v1/unsubscribe/:token',
    { schema: { hide: true } },
    async (request, reply) => {
      const target = await deps.links.verify(request.params.token);
      // A page: HTML unless the client asks for JSON and not for HTML.
      const html = !accepts(request, 'application/json') || accepts(request, 'text/html');
      if (target === undefined) return invalid(reply, html);
      return sendPage(reply, choicePage(await nameOf(deps.catalog, target.message_id)));
    },
  );

  app.post<{ Params: Params }>(
    '/v1/unsubscribe/:token',
    { schema: { hide: true }, bodyLimit: BODY_LIMIT },
    async (request, reply) => {
      const target = await deps.links.verify(request.params.token);
      // A mailbox provider asks for nothing in particular: it gets plain text; a browser, a page.
      const html = accepts(request, 'text/html');
      if (target === undefined) return invalid(reply, html);
      const scope = scopeOf(request.body);
      try {
        await deps.log.append([preferencesEntry(target, scope, deps.now())]);
      } catch {
        // The service's own message stays in our logs: it names hosts.
        if (html) return sendPage(reply, retryPage(scope));
        throw new ApiError(
          'log_unavailable',
          'the log (NATS) did not store the opt-out, so nothing changed: send the same request again',
        );
      }
      const name = await nameOf(deps.catalog, target.message_id);
      if (html) return sendPage(reply, donePage(name, scope));
      return reply
        .type('text/plain; charset=utf-8')
        .header('cache-control', 'no-store')
        .send(doneText(name, scope));
    },
  );
  done();
};

/**
 * The rate limiter's key for a request on a valid unsubscribe link: the link's own, not the
 * address's. The one-click POSTs of a mailbox provider come from a few of its servers for all its
 * users, and must not be refused as one busy address would be; a request on a token that is not
 * ours stays counted per address, like one guessing API keys.
 */
export function linkLimitKey(
  links: UnsubscribeLinks,
): (request: FastifyRequest) => Promise<string | undefined> {
  return async (request) => {
    const token = /^\/v1\/unsubscribe\/([^/?#]+)/.exec(request.url)?.[1];
    if (token === undefined) return undefined;
    const target = await links.verify(token);
    return target === undefined ? undefined : `link:${createHash('sha1').update(token).digest('base64url')}`;
  };
}

function preferencesEntry(target: UnsubscribeTarget, scope: UnsubscribeScope, now: number): PreferencesEntry {
  const channels: Partial<Record<Channel, boolean | null>> = {};
  const messages: Record<string, boolean | null> = {};
  if (scope === 'channel') channels[target.channel] = false;
  else messages[target.message_id] = false;
  return {
    type: 'preferences',
    id: randomUUID(),
    user_id: target.user_id,
    received_at: now,
    channels,
    messages,
  };
}

/** `channel` only from the page's form (`scope=channel`); a one-click POST, or anything else, is this message. */
const scopeOf = (body: unknown): UnsubscribeScope =>
  body instanceof URLSearchParams && body.get('scope') === 'channel' ? 'channel' : 'message';

const accepts = (request: FastifyRequest, type: string): boolean =>
  (request.headers.accept ?? '').toLowerCase().includes(type);

async function nameOf(catalog: Pick<MessageCatalog, 'latest'>, messageId: string): Promise<string> {
  const message = await catalog.latest(messageId).catch(() => undefined);
  const name = message?.name?.trim() ?? '';
  return name === '' ? messageId : name;
}

function sendPage(reply: FastifyReply, page: Page): FastifyReply {
  return reply.code(page.status).headers(PAGE_HEADERS).send(page.html);
}

function invalid(reply: FastifyReply, html: boolean): FastifyReply {
  if (html) return sendPage(reply, invalidLinkPage());
  throw new ApiError(
    'invalid_unsubscribe_token',
    'the unsubscribe link is not valid (cut short, altered or not made here): open it again from the mail',
  );
}
