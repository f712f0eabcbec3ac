// `npm run bench:inapp [-- --connections N --pages N --seconds N --rate N]`: in-app delivery on one
// API process holding N server-sent-events connections (10,000 by default) while events flow.
// Needs the services (npm run services) and Debian's chromium.
//
// One `nudge start` runs the matcher; one `nudge api` process (the one measured) holds every
// connection. Most connections are plain HTTP clients here, each a user of its own, sent a banner
// for every event the load posts for it; a few are real pages in Chromium running the SDK, which
// track their own events and time them with the SDK's timings: track → ingest answered (the plain
// ingest latency) and track → rendered. The pages run first with no other connection open (the
// baseline), then beside the N connections, in the same run.
import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFile, mkdir, writeFile } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import { request as httpRequest } from 'node:http';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { createClient } from '@clickhouse/client';
import { Redis } from 'ioredis';
import type { Page } from 'playwright-core';
import { launchChromium } from '../../test/chromium.ts';
import { newApiKey } from '../../api/auth/api-keys.ts';
import { SseParser } from '../../api/sdk/sse-parser.ts';
import { newClientSecret, userHash } from '../../api/auth/user-hash.ts';
import { applyMessages, ensureCatalogStream } from '../../pipeline/adapters/nats/catalog-stream.ts';
import { connectNats } from '../../pipeline/adapters/nats/connect-nats.ts';
import { RedisKeyStore } from '../../pipeline/adapters/redis/redis-key-store.ts';
import { loadConfig } from '../../pipeline/config/load-config.ts';
import { MessageSchema } from '../../pipeline/core/message-schema.ts';
import type { Scope } from '../../pipeline/ports/key-store.ts';
import { Namespace } from '../../pipeline/namespace.ts';

const { values } = parseArgs({
  options: {
    connections: { type: 'string', default: '10000' },
    pages: { type: 'string', default: '4' },
    seconds: { type: 'string', default: '20' },
    /** Events a second the load posts for the plain connections' users. */
    rate: { type: 'string', default: '200' },
  },
});
const connections = Number(values.connections);
const pageCount = Number(values.pages);
const seconds = Number(values.seconds);
const rate = Number(values.rate);
const config = loadConfig(process.env);
const ns = new Namespace(`bench_inapp_${randomUUID().replaceAll('-', '').slice(0, 12)}`);
const log = (line: string) => process.stderr.write(`bench: ${line}\n`);
const env = { ...process.env, NUDGE_NAMESPACE: ns.name, NUDGE_API_PORT: '0', NUDGE_PARTITIONS: '8' };
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const BANNER = MessageSchema.parse({
  id: 'bench-banner',
  channel: 'banner',
  state: 'live',
  trigger: { event: 'bench-ping' },
  global_cap_exempt: true,
  template: { subject: 'Ping {{ metadata.n }}', body: 'sent at {{ metadata.sent_at }}' },
});

/** A `nudge` command in its own process, until it prints its API's address. */
async function nudge(command: string): Promise<{ child: ChildProcess; url: string }> {
  const bin = new URL('../../bin/nudge.js', import.meta.url).pathname;
  const child = spawn(process.execPath, [bin, command], { env, stdio: ['ignore', 'pipe', 'inherit'] });
  for await (const line of createInterface({ input: child.stdout })) {
    const url = /api: listening on (http:\/\/\S+)/.exec(line)?.[1];
    if (url !== undefined) {
      // Drained from now on: a full pipe would block the process on its next line.
      child.stdout.resume();
      return { child, url };
    }
  }
  throw new Error(`nudge ${command} ended before listening`);
}

const stop = async (child: ChildProcess) => {
  if (child.exitCode !== null) return;
  child.kill('SIGTERM');
  await new Promise((resolve) => child.once('exit', resolve));
};

async function rssMb(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
}

const quantile = (sorted: readonly number[], q: number) =>
  sorted.length === 0 ? NaN : (sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN);
const summary = (samples: readonly number[]) => {
  const sorted = [...samples].sort((a, b) => a - b);
  return {
    n: sorted.length,
    p50_ms: Math.round(quantile(sorted, 0.5)),
    p99_ms: Math.round(quantile(sorted, 0.99)),
  };
};

/** One plain connection: a user's stream, timing each banner from the `sent_at` its event carried. */
class PlainConnection {
  ready = false;
  received = 0;
  private response: IncomingMessage | undefined;

  constructor(
    api: string,
    key: string,
    secret: string,
    readonly user: string,
    latencies: number[],
  ) {
    const req = httpRequest(
      `${api}/v1/client/stream`,
      {
        agent: false,
        headers: {
          authorization: `Bearer ${key}`,
          'x-nudge-user-id': encodeURIComponent(user),
          'x-nudge-user-hash': userHash(secret, user),
        },
      },
      (response) => {
        this.response = response;
        response.setEncoding('utf8');
        const parser = new SseParser((frame) => {
          if (frame.event === 'ready') this.ready = true;
          if (frame.event !== 'message') return;
          this.received++;
          const { body } = JSON.parse(frame.data) as { body: string };
          const sentAt = Number(/sent at (\d+)/.exec(body)?.[1]);
          if (Number.isFinite(sentAt)) latencies.push(Date.now() - sentAt);
        });
        response.on('data', (chunk: string) => {
          parser.push(chunk);
        });
      },
    );
    req.on('error', () => undefined);
    req.end();
  }

  close(): void {
    this.response?.destroy();
  }
}

/**
 * SDK pages: each tracks `bench-ping` every 500 ms; the SDK's own timings (`Nudge.timings()`)
 * give track → ingest answered and track → rendered.
 */
async function pagesRun(
  pages: readonly Page[],
  ms: number,
): Promise<{ ingest: number[]; rendered: number[]; tracked: number }> {
  const results = await Promise.all(
    pages.map((page) =>
      page.evaluate(async (duration: number) => {
        const nudge = window.Nudge;
        const began = performance.timeOrigin + performance.now();
        const ends = Date.now() + duration;
        let n = 0;
        while (Date.now() < ends) {
          await nudge.track('bench-ping', { n: n++, sent_at: Date.now() });
          await new Promise((resolve) => setTimeout(resolve, 500));
        }
        // Give the last banners their second to arrive.
        await new Promise((resolve) => setTimeout(resolve, 2_000));
        const { tracks, rendered } = nudge.timings();
        const mine = tracks.filter((t) => t.tracked_at >= began);
        return {
          ingest: mine.flatMap((t) => (t.answered_at === null ? [] : [t.answered_at - t.tracked_at])),
          rendered: rendered
            .filter((r) => r.tracked_at !== null && r.tracked_at >= began)
            .map((r) => r.rendered_at - (r.tracked_at ?? 0)),
          tracked: mine.length,
        };
      }, ms),
    ),
  );
  return {
    ingest: results.flatMap((r) => r.ingest),
    rendered: results.flatMap((r) => r.rendered),
    tracked: results.reduce((sum, r) => sum + r.tracked, 0),
  };
}

/** What the pages' evaluated functions see of the page (the bench is compiled without the DOM's types). */
declare const window: {
  Nudge: {
    boot(options: { api: string; key: string; userId: string; userHash: string }): Promise<void>;
    track(name: string, metadata?: Record<string, string | number>): Promise<unknown>;
    timings(): {
      tracks: { tracked_at: number; answered_at: number | null }[];
      rendered: { tracked_at: number | null; rendered_at: number }[];
    };
  };
};
declare const performance: { timeOrigin: number; now(): number };

const redis = new Redis(config.redisUrl);
const nc = await connectNats(config.natsUrl, 'bench inapp');
const children: ChildProcess[] = [];
try {
  const store = new RedisKeyStore(redis, ns);
  const secret = await store.ensureClientSecret(newClientSecret());
  const key = async (scope: Scope) => {
    const made = newApiKey();
    await store.put({
      id: made.id,
      name: `bench ${scope}`,
      scopes: [scope],
      hash: made.hash,
      created_at: Date.now(),
      revoked_at: null,
      rate_per_minute: 1_000_000_000,
    });
    return made.key;
  };
  const [clientKey, ingestKey] = [await key('client'), await key('ingest')];
  const jsm = await nc.jetstreamManager();
  await ensureCatalogStream(jsm, ns);
  await applyMessages(nc.jetstream(), jsm, ns, [BANNER], Date.now());

  log('starting the matcher (nudge start) and the measured API (nudge api)…');
  const matcher = await nudge('start');
  children.push(matcher.child);
  const api = await nudge('api');
  children.push(api.child);
  const apiPid = api.child.pid ?? 0;

  const browser = await launchChromium();
  const pages: Page[] = [];
  for (let i = 0; i < pageCount; i++) {
    const page = await browser.newPage();
    await page.goto(`${api.url}/healthz`);
    await page.addScriptTag({ url: '/sdk/nudge.js' });
    const user = `page-${i}`;
    await page.evaluate((options) => window.Nudge.boot(options), {
      api: api.url,
      key: clientKey,
      userId: user,
      userHash: userHash(secret, user),
    });
    pages.push(page);
  }

  log(`baseline: ${pageCount} SDK pages, no other connection, ${seconds} s…`);
  await pagesRun(pages, 3_000); // warm-up
  const baseline = await pagesRun(pages, seconds * 1_000);

  const rssBefore = await rssMb(apiPid);
  log(`opening ${connections} connections…`);
  const latencies: number[] = [];
  const plain: PlainConnection[] = [];
  for (let i = 0; i < connections; i++) {
    plain.push(new PlainConnection(api.url, clientKey, secret, `load-${i}`, latencies));
    // A few hundred at a time: a burst of ten thousand handshakes is another benchmark.
    if (i % 250 === 249) await sleep(50);
  }
  const openBy = Date.now() + 120_000;
  while (plain.some((c) => !c.ready) && Date.now() < openBy) await sleep(200);
  const open = plain.filter((c) => c.ready).length;
  await sleep(2_000);
  const rssAfter = await rssMb(apiPid);
  log(`${open} connections ready; API RSS ${rssBefore.toFixed(0)} → ${rssAfter.toFixed(0)} MB`);

  log(`under load: ${rate} events/s for the connections' users and the ${pageCount} pages, ${seconds} s…`);
  let posted = 0;
  const load = (async () => {
    const ends = Date.now() + seconds * 1_000;
    while (Date.now() < ends) {
      const tick = Date.now();
      const events = Array.from({ length: Math.max(1, Math.round(rate / 10)) }, () => ({
        type: 'track',
        name: 'bench-ping',
        user_id: `load-${Math.floor(Math.random() * connections)}`,
        metadata: { n: posted++, sent_at: Date.now() },
      }));
      await fetch(`${api.url}/v1/events`, {
        method: 'POST',
        headers: { authorization: `Bearer ${ingestKey}`, 'content-type': 'application/json' },
        body: JSON.stringify({ events }),
      });
      await sleep(Math.max(0, 100 - (Date.now() - tick)));
    }
  })();
  const loaded = await pagesRun(pages, seconds * 1_000);
  await load;
  await sleep(3_000);
  const delivered = plain.reduce((sum, c) => sum + c.received, 0);
  for (const c of plain) c.close();
  await browser.close();

  const result = {
    date: new Date().toISOString().slice(0, 10),
    connections: { asked: connections, open },
    api_rss_mb: { before: Math.round(rssBefore), after: Math.round(rssAfter) },
    kib_per_connection: Math.round(((rssAfter - rssBefore) * 1024) / Math.max(1, open)),
    baseline: {
      ingest: summary(baseline.ingest),
      rendered: summary(baseline.rendered),
      tracked: baseline.tracked,
    },
    loaded: { ingest: summary(loaded.ingest), rendered: summary(loaded.rendered), tracked: loaded.tracked },
    plain: { posted, delivered, latency: summary(latencies) },
  };
  const dir = new URL('../out/', import.meta.url).pathname;
  await mkdir(dir, { recursive: true });
  await writeFile(`${dir}inapp.json`, `${JSON.stringify(result, null, 2)}\n`);
  const row = (name: string, s: { n: number; p50_ms: number; p99_ms: number }) =>
    `| ${name} | ${s.n} | ${s.p50_ms} | ${s.p99_ms} |`;
  process.stdout.write(
    [
      `| measured | samples | p50 ms | p99 ms |`,
      `| --- | ---: | ---: | ---: |`,
      row('SDK track → ingest answered, no other connection (baseline)', result.baseline.ingest),
      row('SDK track → banner rendered, no other connection', result.baseline.rendered),
      row(`SDK track → ingest answered, beside ${open} connections`, result.loaded.ingest),
      row(`SDK track → banner rendered, beside ${open} connections`, result.loaded.rendered),
      row(
        `plain connections: event posted → banner received (${delivered} of ${posted})`,
        result.plain.latency,
      ),
      '',
      `API process RSS ${result.api_rss_mb.before} MB → ${result.api_rss_mb.after} MB with ${open} connections: ` +
        `${result.kib_per_connection} KiB a connection. Rendered ÷ ingest p50 under load: ` +
        `${(result.loaded.rendered.p50_ms / Math.max(1, result.loaded.ingest.p50_ms)).toFixed(1)}×.`,
      '',
    ].join('\n'),
  );
} finally {
  for (const child of children.reverse()) await stop(child);
  const jsm = await nc.jetstreamManager();
  for (const stream of ns.streams) await jsm.streams.delete(stream).catch(() => false);
  await nc.drain();
  const keys = await redis.keys(`${ns.name}:*`);
  if (keys.length > 0) await redis.del(...keys);
  await redis.quit();
  const clickhouse = createClient({ url: config.clickhouseUrl });
  await clickhouse.command({ query: `DROP DATABASE IF EXISTS ${ns.database}` });
  await clickhouse.close();
}
