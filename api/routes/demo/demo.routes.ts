import { readFile } from 'node:fs/promises';
import type { FastifyPluginCallback } from 'fastify';

/** Who the demo page is, as the quick start made them: a `client` key, a user, and that user's hash. */
export type DemoPage = { readonly key: string; readonly userId: string; readonly userHash: string };

export type DemoOptions = {
  /** Absent: the page says how to start the demo instead. */
  readonly demo?: DemoPage;
  /** Where the page's dashboard link goes (the quick start's has its key); `/dashboard` by default. */
  readonly dashboardUrl?: string;
};

const here = (file: string) => new URL(`../../../dashboards/${file}`, import.meta.url);
/** Where demo.html takes the page's configuration. */
const SLOT = '<!-- nudge-demo-config -->';
/**
 * The page runs its own script and the SDK's; the SDK puts its default style in a <style>
 * element, hence inline styles; it talks to this API only.
 */
const CSP =
  "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; script-src 'self'; connect-src 'self'";

/**
 * The quick start's demo app (issue #16): a small product page, "Acme Files", whose upload button
 * tracks `upload-completed` with the SDK, so a newcomer sees the banner an upload brings, sees
 * none on a second upload within the hour, and follows the link to the dashboard to see why.
 */
export const demoRoutes: FastifyPluginCallback<DemoOptions> = (app, options, done) => {
  app.get('/demo', { schema: { hide: true } }, async (_request, reply) => {
    const page = await readFile(here('demo.html'), 'utf8');
    void reply
      .header('content-type', 'text/html; charset=utf-8')
      .header('cache-control', 'no-store')
      .header('content-security-policy', CSP);
    return page.replace(SLOT, configScript(options));
  });
  app.get('/demo/demo.js', { schema: { hide: true } }, async (_request, reply) => {
    void reply.header('content-type', 'text/javascript; charset=utf-8').header('cache-control', 'no-cache');
    return readFile(here('demo.js'));
  });
  done();
};

/**
 * The page's configuration as JSON in a script element the browser never runs. `<` is written
 * `\u003c` (JSON reads it back the same), so no value can close the element and open markup.
 */
function configScript(options: DemoOptions): string {
  if (options.demo === undefined) return '';
  const config = {
    key: options.demo.key,
    userId: options.demo.userId,
    userHash: options.demo.userHash,
    dashboardUrl: options.dashboardUrl ?? '/dashboard',
  };
  const json = JSON.stringify(config).replaceAll('<', '\\u003c');
  return `<script type="application/json" id="nudge-demo">${json}</script>`;
}
