import type { FastifyPluginCallback } from 'fastify';
import { sdkBundle } from './sdk-bundle.ts';

/** Five minutes: a new SDK reaches pages soon after a deploy, and a page's loads are one request each. */
const CACHE_CONTROL = 'public, max-age=300';

/**
 * `GET /sdk/nudge.js` (README "Show messages in your app"): the browser SDK, for a
 * `<script src>` on any origin. No key: the script holds no secret, the key and the user's hash
 * are given to `Nudge.boot` by the page. An `ETag` lets a browser revalidate for a 304 once its
 * five minutes are up.
 */
export const sdkRoutes: FastifyPluginCallback = (app, _options, done) => {
  app.get('/sdk/nudge.js', { schema: { hide: true } }, async (request, reply) => {
    const { code, etag } = await sdkBundle();
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
  });
  done();
};

/** Whether an `If-None-Match` names the tag (a list, `*`, or weak `W/` forms, compared weakly as RFC 9110 says). */
function matches(header: string | undefined, etag: string): boolean {
  if (header === undefined) return false;
  return header
    .split(',')
    .map((tag) => tag.trim().replace(/^W\//, ''))
    .some((tag) => tag === etag || tag === '*');
}
