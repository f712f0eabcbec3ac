import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { FastifyPluginCallback } from 'fastify';

const here = (file: string) => new URL(`../../../dashboards/${file}`, import.meta.url).pathname;
/**
 * Chart.js as the package ships it (a UMD build for a plain script tag): served, never bundled.
 * Found beside its main file: the package's exports do not name the UMD build.
 */
const chartJs = join(dirname(createRequire(import.meta.url).resolve('chart.js')), 'chart.umd.min.js');

const FILES: Record<string, { path: string; type: string }> = {
  '/dashboard': { path: here('index.html'), type: 'text/html; charset=utf-8' },
  '/dashboard/dashboard.js': { path: here('dashboard.js'), type: 'text/javascript; charset=utf-8' },
  '/dashboard/format.js': { path: here('format.js'), type: 'text/javascript; charset=utf-8' },
  '/dashboard/funnel.js': { path: here('funnel.js'), type: 'text/javascript; charset=utf-8' },
  '/dashboard/dashboard.css': { path: here('dashboard.css'), type: 'text/css; charset=utf-8' },
  '/dashboard/vendor/chart.umd.min.js': { path: chartJs, type: 'text/javascript; charset=utf-8' },
};

/**
 * The dashboard (DESIGN §7): a page and its script, served as they are (no build step). The page
 * needs no key to load; it asks the stats, audit and replay routes with the key it is given (a
 * `read` key shows everything; starting a replay is the API's, with an `admin` key).
 */
export const dashboardRoutes: FastifyPluginCallback = (app, _options, done) => {
  for (const [url, file] of Object.entries(FILES)) {
    app.get(url, { schema: { hide: true } }, async (_request, reply) => {
      void reply.header('content-type', file.type).header('cache-control', 'no-cache');
      // The page may only talk to this API and run its own scripts.
      if (url === '/dashboard')
        void reply.header(
          'content-security-policy',
          "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'",
        );
      return readFile(file.path);
    });
  }
  done();
};
