import { createHash } from 'node:crypto';
import type { FastifyPluginCallback, FastifyReply, FastifyRequest } from 'fastify';
import type { InAppOutcome, InAppOutcomes } from '../../../pipeline/ports/delivery.ts';
import type { UnsubscribeLinks } from '../../auth/unsubscribe-links.ts';
import type { TrackTarget } from '../../auth/track-token.ts';
import { ApiError } from '../../errors.ts';

export type TrackDeps = {
  /** Where opens and clicks go: `inapp_outcomes`, beside the in-app channels' (one row per send and outcome). */
  readonly outcomes: InAppOutcomes;
  readonly links: Pick<UnsubscribeLinks, 'verifyTrack'>;
  /** The API's clock: when the outcome was reported. */
  readonly now: () => number;
};

/** A transparent 1×1 GIF (42 bytes): what the open pixel answers, whatever became of its token. */
export const PIXEL = Buffer.from('R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7', 'base64');

/** What each push action records. */
const PUSH_ACTIONS = { seen: 'seen', click: 'clicked' } as const;
type Params = { readonly token: string };

/**
 * Opens of mails and clicks of push notifications (README "Deliveries"), with no API key: the
 * signed token in the path is the credential, and the most it can do is record once that its one
 * send was opened or clicked (`inapp_outcomes` keeps one row per send and outcome), so a leaked
 * or replayed link costs nothing. Hidden from the OpenAPI document, like the unsubscribe routes:
 * they are called by mail clients and service workers, never by an integration.
 *
 * - `GET /v1/track/:token/open.gif` (an `open` token): records `seen` and answers a transparent
 *   1×1 GIF, never cached. Any other token, or a store that does not answer, still gets the GIF:
 *   an image must not break a mail. So it records nothing and says nothing.
 * - `POST /v1/track/:token/seen` and `/click` (a `click` token, a push's): record `seen` (the
 *   notification was shown) and `clicked`. What may be recorded is the token's kind, never the
 *   path's: an open token here is a 400 (`invalid_request`), as is a forged one. 204 when stored;
 *   503 when the store did not answer (the worker does not retry: one outcome lost).
 */
export const trackRoutes: FastifyPluginCallback<TrackDeps> = (app, deps, done) => {
  // A service worker's POST has no body; whatever one carries is read and set aside (here only).
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: 1_024 }, (_request, _body, done) => {
    done(null, undefined);
  });

  app.get<{ Params: Params }>(
    '/v1/track/:token/open.gif',
    { schema: { hide: true } },
    async (request, reply) => {
      const target = await deps.links.verifyTrack(request.params.token).catch(() => undefined);
      if (target?.kind === 'open') {
        // Lost when the store is down: the mail's image matters more than one open.
        await deps.outcomes.record([outcomeOf(target, 'seen', deps.now())]).catch((error: unknown) => {
          request.log.warn({ err: error }, 'an open was not recorded');
        });
      }
      return gif(reply);
    },
  );

  app.post<{ Params: Params & { readonly action: string } }>(
    '/v1/track/:token/:action',
    { schema: { hide: true } },
    async (request, reply) => {
      const { token, action } = request.params;
      if (action !== 'seen' && action !== 'click')
        throw new ApiError('not_found', `no route POST /v1/track/:token/${action}: seen or click`);
      const target = await deps.links.verifyTrack(token);
      if (target === undefined)
        throw new ApiError(
          'invalid_request',
          'token: not a tracking token this deployment signed (cut short, altered or not made here)',
        );
      if (target.kind !== 'click')
        throw new ApiError(
          'invalid_request',
          `token: a tracking token of kind ${target.kind} records no ${action}`,
        );
      await deps.outcomes.record([outcomeOf(target, PUSH_ACTIONS[action], deps.now())]);
      return reply.code(204).header('cache-control', 'no-store').send();
    },
  );
  done();
};

/**
 * The rate limiter's key for a request on a valid tracking link: the link's own, not the
 * address's. Mail images are fetched through a few proxies for all their users (Gmail's, Apple's
 * Mail Privacy Protection), which must not be refused as one busy address would be; a request on a
 * token that is not ours stays counted per address.
 */
export function trackLimitKey(
  links: Pick<UnsubscribeLinks, 'verifyTrack'>,
): (request: FastifyRequest) => Promise<string | undefined> {
  return async (request) => {
    const token = /^\/v1\/track\/([^/?#]+)\//.exec(request.url)?.[1];
    if (token === undefined) return undefined;
    const target = await links.verifyTrack(token).catch(() => undefined);
    return target === undefined ? undefined : `track:${createHash('sha1').update(token).digest('base64url')}`;
  };
}

function outcomeOf(target: TrackTarget, outcome: InAppOutcome['outcome'], now: number): InAppOutcome {
  return {
    decision_id: target.decision_id,
    message_id: target.message_id,
    user_id: target.user_id,
    channel: target.channel,
    outcome,
    latency_ms: Math.max(0, now - target.at),
    at: now,
  };
}

const gif = (reply: FastifyReply): FastifyReply =>
  reply
    .type('image/gif')
    .header('cache-control', 'no-store')
    // Nothing of the mail's address travels on to anywhere else.
    .header('referrer-policy', 'no-referrer')
    .send(PIXEL);
