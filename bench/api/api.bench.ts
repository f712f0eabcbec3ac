// `npm run bench:api [-- --seconds N --connections N --batch N --rounds N]`: the API's ingest against a bare
// fastify server measured in the same run, each server in its own process, autocannon here.
// Needs the services (npm run services).
import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { Redis } from 'ioredis';
import { RedisKeyStore } from '../../pipeline/adapters/redis/redis-key-store.ts';
import { newApiKey } from '../../api/auth/api-keys.ts';
import { connectNats } from '../../pipeline/adapters/nats/connect-nats.ts';
import { loadConfig } from '../../pipeline/config/load-config.ts';
import { Namespace } from '../../pipeline/namespace.ts';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '10' },
    connections: { type: 'string', default: '50' },
    batch: { type: 'string', default: '500' },
    rounds: { type: 'string', default: '5' },
    /** Writes a CPU profile of each server process to bench/out/profile/. */
    profile: { type: 'boolean', default: false },
  },
});
const profileArgs = values.profile
  ? ['--cpu-prof', `--cpu-prof-dir=${new URL('../out/profile/', import.meta.url).pathname}`]
  : [];
const seconds = Number(values.seconds);
const connections = Number(values.connections);
const batchSize = Number(values.batch);
const config = loadConfig(process.env);
const ns = new Namespace(`bench_api_${randomUUID().replaceAll('-', '').slice(0, 12)}`);
const log = (line: string) => process.stderr.write(`bench: ${line}\n`);

async function server(mode: 'bare' | 'nudge'): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(
    process.execPath,
    [...profileArgs, '--import', 'tsx', new URL('api-server.ts', import.meta.url).pathname, mode],
    {
      env: { ...process.env, NUDGE_NAMESPACE: ns.name },
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  for await (const line of createInterface({ input: child.stdout })) {
    const port = /^listening (\d+)/.exec(line)?.[1];
    if (port !== undefined) return { child, url: `http://127.0.0.1:${port}` };
  }
  throw new Error(`the ${mode} server ended before listening`);
}

const entry = (n: number) => ({
  type: 'track',
  id: `bench-${n}`,
  name: 'upload_completed',
  user_id: `u${n % 10_000}`,
  metadata: { file_name: `f${n}.pdf`, size: n % 1000, plan: 'pro' },
  context: { url: 'https://example.test/app/uploads' },
});

type Run = { requests_per_s: number; p50_ms: number; p99_ms: number; non2xx: number; errors: number };

/** Requests with a body made afresh for each request (new ids: a repeated id would be a cheap duplicate). */
async function load(url: string, key: string, body: (n: number) => unknown): Promise<Run> {
  let n = 0;
  const result = await autocannon({
    url: `${url}/v1/events`,
    connections,
    duration: seconds,
    requests: [
      {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
        setupRequest: (request) => ({ ...request, body: JSON.stringify(body(n++)) }),
      },
    ],
  });
  return {
    requests_per_s: Math.round(result.requests.average),
    p50_ms: result.latency.p50,
    p99_ms: result.latency.p99,
    non2xx: result.non2xx,
    errors: result.errors,
  };
}

const stop = async (child: ChildProcess) => {
  child.kill('SIGTERM');
  await new Promise((resolve) => child.once('exit', resolve));
};

const redis = new Redis(config.redisUrl);
const { id, key, hash } = newApiKey();
await new RedisKeyStore(redis, ns).put({
  id,
  name: 'bench',
  scopes: ['ingest'],
  hash,
  created_at: Date.now(),
  revoked_at: null,
  rate_per_minute: 1_000_000_000,
});
try {
  // Rounds of bare, nudge, bare: each single-entry run is compared with the mean of the bare runs
  // just before and after it, so a drift of the machine's speed (it is shared) cancels out, and
  // the round ratios' median is the figure (a lucky or unlucky round moves it least). The best of
  // each run over the rounds is kept too, for the table.
  const best = (a: Run | undefined, b: Run) =>
    a === undefined || b.requests_per_s > a.requests_per_s ? b : a;
  const bareRun = async () => {
    const bare = await server('bare');
    const run = await load(bare.url, key, entry);
    await stop(bare.child);
    return run;
  };
  let baseline: Run;
  let single: Run | undefined;
  let batch: Run | undefined;
  const ratios: number[] = [];
  log(`round 1: bare fastify, ${connections} connections, ${seconds} s…`);
  let before = await bareRun();
  baseline = before;
  for (let round = 1; round <= Number(values.rounds); round++) {
    const nudge = await server('nudge');
    log(`round ${round}: nudge, one entry a request…`);
    const one = await load(nudge.url, key, (n) => entry(round * 1e8 + n));
    single = best(single, one);
    log(`round ${round}: nudge, ${batchSize} entries a request…`);
    batch = best(
      batch,
      await load(nudge.url, key, (n) => ({
        events: Array.from({ length: batchSize }, (_, i) => entry(round * 1e11 + 1e9 + n * batchSize + i)),
      })),
    );
    await stop(nudge.child);
    log(`round ${round}: bare fastify again…`);
    const after = await bareRun();
    baseline = best(baseline, after);
    const ratio = one.requests_per_s / ((before.requests_per_s + after.requests_per_s) / 2);
    ratios.push(ratio);
    log(
      `round ${round}: bare ${before.requests_per_s} / ${after.requests_per_s}, single ${one.requests_per_s} req/s ` +
        `(${Math.round(ratio * 100)}%), batch ${batch.requests_per_s * batchSize} entries/s (best so far)`,
    );
    before = after;
  }
  if (single === undefined || batch === undefined) throw new Error('no rounds');
  const sorted = [...ratios].sort((x, y) => x - y);
  const middle = sorted.length / 2;
  const median =
    sorted.length % 2 === 1
      ? (sorted[Math.floor(middle)] ?? 0)
      : ((sorted[middle - 1] ?? 0) + (sorted[middle] ?? 0)) / 2;
  const result = {
    connections,
    seconds,
    rounds: Number(values.rounds),
    baseline,
    single: {
      ...single,
      ratio: Number(median.toFixed(3)),
      round_ratios: ratios.map((r) => Number(r.toFixed(3))),
    },
    batch: { ...batch, batch_size: batchSize, entries_per_s: batch.requests_per_s * batchSize },
  };
  const dir = new URL('../out/', import.meta.url).pathname;
  await mkdir(dir, { recursive: true });
  await writeFile(`${dir}api.json`, `${JSON.stringify(result, null, 2)}\n`);
  process.stdout.write(
    [
      `| run | req/s | p50 ms | p99 ms | non-2xx | entries/s |`,
      `| --- | ---: | ---: | ---: | ---: | ---: |`,
      `| bare fastify (baseline) | ${baseline.requests_per_s} | ${baseline.p50_ms} | ${baseline.p99_ms} | ${baseline.non2xx} | – |`,
      `| POST /v1/events, 1 entry | ${single.requests_per_s} | ${single.p50_ms} | ${single.p99_ms} | ${single.non2xx} | ${single.requests_per_s} |`,
      `| POST /v1/events, ${batchSize} entries | ${batch.requests_per_s} | ${batch.p50_ms} | ${batch.p99_ms} | ${batch.non2xx} | ${result.batch.entries_per_s} |`,
      '',
      `single entry ÷ bare fastify, per round (against the bare runs before and after it): ` +
        `${result.single.round_ratios.map((r) => `${Math.round(r * 100)}%`).join(', ')}; median ${Math.round(median * 100)}%`,
      '',
    ].join('\n'),
  );
} finally {
  const nc = await connectNats(config.natsUrl, 'bench cleanup');
  const jsm = await nc.jetstreamManager();
  for (const stream of ns.streams) await jsm.streams.delete(stream).catch(() => false);
  await nc.drain();
  const keys = await redis.keys(`${ns.name}:*`);
  if (keys.length > 0) await redis.del(...keys);
  await redis.quit();
}
