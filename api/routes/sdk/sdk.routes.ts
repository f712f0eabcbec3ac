import type { FastifyPluginCallback, FastifyReply, FastifyRequest } from 'fastify';
import { sdkBundle } from './sdk-bundle.ts';

/** Five minutes: a new SDK reaches pages soon after a deploy, and a page's loads are one request each. */
const CACHE_CONTROL = 'public, max-age=300';

/**
 * `GET /sdk/nudge.js` (README "Show messages in your app"): the browser SDK, for a
 * `<script src>` on any origin. No key: the script holds no secret, the key and the user's hash
 * are given to `Nudge.boot` by the page. `GET /sdk/nudge-sw.js`: the service worker that shows
 * push notifications, which a site's own service worker imports (README "Push notifications").
 * An `ETag` lets a browser revalidate for a 304 once its five minutes are up.
 */
export const sdkRoutes: FastifyPluginCallback = (app, _options, done) => {
  app.get('/sdk/nudge.js', { schema: { hide: true } }, (request, reply) => script(request, reply, 'sdk'));
  // The service worker a site's own imports (`importScripts`): it shows the push notifications.
  app.get('/sdk/nudge-sw.js', { schema: { hide: true } }, (request, reply) =>
    script(request, reply, 'serviceWorker'),
  );
  done();
};

async function script(request: FastifyRequest, reply: FastifyReply, entry: 'sdk' | 'serviceWorker') {
  const { code, etag } = await sdkBundle(entry);
  void reply
    .header('content-type', 'application/javascript; charset=utf-8')
    .header('etag', etag)
    .header('cache-control', CACHE_CONTROL)
    .header('access-control-allow-origin', '*')
    // A page isolated cross-origin (COEP require-corp) may load it too.
    .header('cross-origin-resource-policy', 'cross-origin')
    .header('x-content-type-options', 'nosniff');
  if (matches(request.headers['if-none-match'], etag)) return reply.code(304).send();
  return code;
}

/** Whether an `If-None-Match` names the tag (a list, `*`, or weak `W/` forms, compared weakly as RFC 9110 says). */
function matches(header: string | undefined, etag: string): boolean {
  if (header === undefined) return false;
  return header
    .split(',')
    .map((tag) => tag.trim().replace(/^W\//, ''))
    .some((tag) => tag === etag || tag === '*');
}
