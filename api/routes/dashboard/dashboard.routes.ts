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

/** Scripts of the dashboard's folder, each served under its own name. */
const scripts = (names: readonly string[]) =>
  Object.fromEntries(
    names.map((name) => [`/dashboard/${name}`, { path: here(name), type: 'text/javascript; charset=utf-8' }]),
  );

const FILES: Record<string, { path: string; type: string }> = {
  '/dashboard': { path: here('index.html'), type: 'text/html; charset=utf-8' },
  '/dashboard/dashboard.js': { path: here('dashboard.js'), type: 'text/javascript; charset=utf-8' },
  '/dashboard/format.js': { path: here('format.js'), type: 'text/javascript; charset=utf-8' },
  '/dashboard/funnel.js': { path: here('funnel.js'), type: 'text/javascript; charset=utf-8' },
  '/dashboard/dashboard.css': { path: here('dashboard.css'), type: 'text/css; charset=utf-8' },
  '/dashboard/vendor/chart.umd.min.js': { path: chartJs, type: 'text/javascript; charset=utf-8' },
  // The messages page and its composer (issue #19).
  '/dashboard/messages': { path: here('messages.html'), type: 'text/html; charset=utf-8' },
  ...scripts([
    'messages.js',
    'message-list.js',
    'versions.js',
    'line-diff.js',
    'composer.js',
    'composer-fields.js',
    'rule-list.js',
    'placeholder-menu.js',
    'preview.js',
    'impact.js',
    'message-format.js',
    'nudge-api.js',
  ]),
  // The overview's modules: its charts and tables, and the tuning panel (issue #19).
  ...scripts([
    'charts.js',
    'tables.js',
    'times.js',
    'series.js',
    'tuning.js',
    'tuning-targets.js',
    'tuning-limits.js',
    'tuning-runs.js',
    'replay-diff.js',
    'sweep-curve.js',
  ]),
  '/dashboard/overview.css': { path: here('overview.css'), type: 'text/css; charset=utf-8' },
};

/**
 * The dashboard (DESIGN §7): its pages and their scripts, served as they are (no build step). A
 * page needs no key to load; it asks the stats, audit and replay routes with the key it is given (a
 * `read` key shows everything; starting a replay or a sweep from the page needs an `admin` key).
 */
export const dashboardRoutes: FastifyPluginCallback = (app, _options, done) => {
  for (const [url, file] of Object.entries(FILES)) {
    app.get(url, { schema: { hide: true } }, async (_request, reply) => {
      void reply.header('content-type', file.type).header('cache-control', 'no-cache');
      // The page may only talk to this API and run its own scripts.
      if (file.type.startsWith('text/html'))
        void reply.header(
          'content-security-policy',
          "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'",
        );
      return readFile(file.path);
    });
  }
  done();
};
