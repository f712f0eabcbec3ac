import { ClickHouseLogLevel, createClient } from '@clickhouse/client';
import { connectRedis } from '../pipeline/adapters/redis/connect-redis.ts';
import type { NatsConnection } from 'nats';
import { buildApi } from '../api/app.ts';
import type { DemoPage } from '../api/routes/demo/demo.routes.ts';
import { apiPorts } from './api-ports.ts';
import { connectNats } from '../pipeline/adapters/nats/connect-nats.ts';
import { ensureCatalogStream } from '../pipeline/adapters/nats/catalog-stream.ts';
import { ensureLogStream } from '../pipeline/adapters/nats/log-stream.ts';
import type { Config } from '../pipeline/config/load-config.ts';
import { loadConfig, namespaceOf } from '../pipeline/config/load-config.ts';
import { NudgeMetrics } from '../pipeline/runtime/metrics.ts';
import { InputError } from '../pipeline/errors.ts';
import { stopSignal } from './stop-signal.ts';

/** `nudge api`: the HTTP API alone (to scale it apart from the matchers), until SIGINT or SIGTERM. */
export async function apiCommand(): Promise<void> {
  await runApi(loadConfig(process.env), stopSignal(), (line) => process.stdout.write(`api: ${line}\n`));
}

/** The API of a namespace on NUDGE_API_HOST:NUDGE_API_PORT, until the signal aborts. */
export async function runApi(
  config: Config,
  signal: AbortSignal,
  report: (line: string) => void,
  metrics: NudgeMetrics = new NudgeMetrics(),
  onListening?: (address: string) => Promise<void>,
  demo?: DemoPage,
): Promise<void> {
  const ns = namespaceOf(config);
  const nc: NatsConnection = await connectNats(config.natsUrl, 'nudge api');
  // Commands issued in one turn of the event loop go out as one pipeline: the rate limiter asks
  // Redis on every request, and one write per request was a fifth of the API's CPU.
  const redis = connectRedis(config.redisUrl, { enableAutoPipelining: true });
  // Quiet: the API answers a ClickHouse failure itself (a 503), which the client would also log.
  const clickhouse = createClient({ url: config.clickhouseUrl, log: { level: ClickHouseLogLevel.OFF } });
  try {
    const jsm = await nc.jetstreamManager();
    await ensureLogStream(jsm, ns, config.partitions);
    await ensureCatalogStream(jsm, ns);
    const { rateLimitStore, ...ports } = apiPorts({
      nc,
      jsm,
      redis,
      clickhouse,
      clickhouseUrl: config.clickhouseUrl,
      ns,
      partitions: config.partitions,
      now: () => Date.now(),
      report,
    });
    const app = await buildApi({
      ...ports,
      partitions: config.partitions,
      clientOrigins: config.clientOrigins,
      ...(demo === undefined ? {} : { demo }),
      now: () => Date.now(),
      ready: async () => ({
        nats:
          !nc.isClosed() &&
          (await nc.flush().then(
            () => true,
            () => false,
          )),
        redis: await redis.ping().then(
          () => true,
          () => false,
        ),
        clickhouse: await clickhouse.ping().then(
          (r) => r.success,
          () => false,
        ),
      }),
      rateLimits: {
        store: rateLimitStore,
        perKeyPerMinute: config.apiRatePerMinute,
        anonymousPerMinute: config.apiAnonymousRatePerMinute,
      },
      metrics,
      logger: { level: 'warn' },
    });
    const address = await app
      .listen({ host: config.apiHost, port: config.apiPort })
      .catch((error: unknown) => {
        if ((error as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw error;
        throw new InputError('the API', [
          `${config.apiHost}:${config.apiPort} is in use (is another nudge start running?): stop it, or set NUDGE_API_PORT to another port`,
        ]);
      });
    report(`listening on ${address} (docs at ${address}/docs, OpenAPI at ${address}/openapi.json)`);
    await onListening?.(address);
    await new Promise<void>((resolve) => {
      if (signal.aborted) resolve();
      signal.addEventListener(
        'abort',
        () => {
          resolve();
        },
        { once: true },
      );
    });
    // Requests in flight finish (their entries acknowledged) before the connections close.
    await app.close();
  } finally {
    await nc.drain();
    await redis.quit();
    await clickhouse.close();
  }
}
