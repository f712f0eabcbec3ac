import { readdir, rm, stat } from 'node:fs/promises';
import { relative, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import type { ClickHouseClient } from '@clickhouse/client';
import { ClickHouseLogLevel, createClient } from '@clickhouse/client';
import { Cluster } from 'ioredis';
import type { RedisClient } from '../pipeline/adapters/redis/connect-redis.ts';
import { connectRedis } from '../pipeline/adapters/redis/connect-redis.ts';
import type { JetStreamManager, NatsConnection } from 'nats';
import { NatsError } from 'nats';
import { ident, sql } from '../pipeline/adapters/clickhouse/sql.ts';
import { connectNats } from '../pipeline/adapters/nats/connect-nats.ts';
import { streamInfo } from '../pipeline/adapters/nats/stream-info.ts';
import type { Config } from '../pipeline/config/load-config.ts';
import { loadConfig } from '../pipeline/config/load-config.ts';
import { InputError } from '../pipeline/errors.ts';
import { Namespace, NAMESPACE_PATTERN } from '../pipeline/namespace.ts';
import { UsageError } from './usage-error.ts';

/** JetStream's API error code for "stream not found" (told by the code, never the message text). */
const STREAM_NOT_FOUND = 10059;
/** Keys asked of SCAN at a time, and so removed by one UNLINK at most. */
const SCAN_COUNT = 1000;
const NOTHING_REMOVED = 'nothing was removed';

/** What a failure says, by when it happens: before anything is removed, or part way. */
type Stage = { readonly failed: string; readonly then: string };
const CONNECTING: Stage = { failed: 'did not answer', then: NOTHING_REMOVED };
const LOOKING: Stage = { failed: 'failed', then: NOTHING_REMOVED };
const REMOVING: Stage = {
  failed: 'failed',
  then: 'what is listed above was removed; run the command again to remove the rest',
};

type Services = {
  readonly nc: NatsConnection;
  readonly jsm: JetStreamManager;
  readonly redis: RedisClient;
  readonly clickhouse: ClickHouseClient;
};

type Found = {
  readonly streams: readonly { readonly name: string; readonly messages: number }[];
  readonly keys: number;
  readonly database: boolean;
  /** The quick start's mail folder (`<data dir>/mail/<namespace>`): how many mails, if it is there. */
  readonly mails: number | undefined;
};

/** `nudge namespace drop <name> [--yes]`: removes every stream, Redis key and database of a namespace. */
export async function namespaceCommand(args: string[]): Promise<void> {
  const { ns, yes } = parseDropArgs(args);
  const config = loadConfig(process.env);
  const services = await openServices(config);
  try {
    const found = await inventory(services, ns, config);
    if (found.streams.length === 0 && found.keys === 0 && !found.database && found.mails === undefined) {
      say(
        `namespace ${ns.name} has nothing to remove: no streams, no Redis keys under ${ns.name}:, no database`,
      );
      return;
    }
    if (!yes) {
      printPlan(ns, found, config);
      await confirm(ns.name);
    }
    await drop(services, ns, config);
  } finally {
    await closeServices(services);
  }
}

function parseDropArgs(args: string[]): { ns: Namespace; yes: boolean } {
  const [action, ...rest] = args;
  if (action !== 'drop') throw new UsageError('use "namespace drop <name> [--yes]"');
  let parsed;
  try {
    parsed = parseArgs({
      args: rest,
      options: { yes: { type: 'boolean', default: false } },
      allowPositionals: true,
      strict: true,
    });
  } catch (error) {
    throw new UsageError((error as Error).message, { cause: error });
  }
  const { values, positionals } = parsed;
  // No default to the configured namespace: a namespace is dropped only by naming it.
  if (positionals.length !== 1) throw new UsageError('namespace drop needs exactly one <name>');
  const [name = ''] = positionals;
  if (!NAMESPACE_PATTERN.test(name))
    throw new UsageError(
      `${JSON.stringify(name)} is not a namespace: lowercase letters, digits and "_", starting with a letter, at most 40`,
    );
  return { ns: new Namespace(name), yes: values.yes };
}

/** Connects to all three before anything is removed, so that a service that is down leaves the namespace whole. */
async function openServices(config: Config): Promise<Services> {
  const nc = await answered('NATS', config.natsUrl, CONNECTING, () =>
    connectNats(config.natsUrl, 'nudge namespace'),
  );
  const opened: { redis?: RedisClient; clickhouse?: ClickHouseClient } = {};
  try {
    const jsm = await answered('JetStream', config.natsUrl, CONNECTING, () => nc.jetstreamManager());
    opened.redis = await openRedis(config.redisUrl);
    opened.clickhouse = await connectClickHouse(config.clickhouseUrl);
    return { nc, jsm, redis: opened.redis, clickhouse: opened.clickhouse };
  } catch (error) {
    opened.redis?.disconnect();
    await opened.clickhouse?.close();
    await nc.close();
    throw error;
  }
}

async function openRedis(url: string): Promise<RedisClient> {
  // Fail at once rather than retry forever (ioredis's default): the user is waiting on this command.
  const redis = connectRedis(url, { lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 1 });
  // `connect` rejects with "Connection is closed."; the reason (refused, unknown host) comes as an event.
  let reason: unknown;
  redis.on('error', (error) => {
    reason ??= error;
  });
  try {
    await redis.connect();
    return redis;
  } catch (error) {
    // Already ended, a disconnect would only hold the process 2 s on ioredis's disconnect timer.
    if (redis.status !== 'end') redis.disconnect();
    throw failure('Redis', url, reason ?? error, CONNECTING);
  }
}

async function connectClickHouse(url: string): Promise<ClickHouseClient> {
  const clickhouse = createClient({ url, log: { level: ClickHouseLogLevel.OFF } });
  const ping = await clickhouse.ping();
  if (!ping.success) {
    await clickhouse.close();
    throw failure('ClickHouse', url, ping.error, CONNECTING);
  }
  return clickhouse;
}

/** Best effort: a connection that broke must not hide the error that says which service broke it. */
async function closeServices(services: Services): Promise<void> {
  await Promise.allSettled([services.nc.close(), services.redis.quit(), services.clickhouse.close()]);
}

async function inventory(services: Services, ns: Namespace, config: Config): Promise<Found> {
  const streams = [];
  for (const name of ns.streams) {
    const info = await answered('NATS', config.natsUrl, LOOKING, () => streamInfo(services.jsm, name));
    if (info !== undefined) streams.push({ name, messages: info.state.messages });
  }
  let keys = 0;
  await answered('Redis', config.redisUrl, LOOKING, async () => {
    for await (const batch of scanKeys(services.redis, ns)) keys += batch.length;
  });
  const database = await answered('ClickHouse', config.clickhouseUrl, LOOKING, () =>
    databaseExists(services.clickhouse, ns.database),
  );
  const mails = await readdir(mailFolder(config, ns)).then(
    (files) => files.length,
    () => undefined,
  );
  return { streams, keys, database, mails };
}

/** Where `npm start`'s mail sink keeps the namespace's mails. */
const mailFolder = (config: Config, ns: Namespace) => resolve(config.dataDir, 'mail', ns.name);

function printPlan(ns: Namespace, found: Found, config: Config): void {
  say(`namespace ${ns.name}: this removes`);
  for (const stream of found.streams)
    say(`  JetStream stream ${stream.name} (${plural(stream.messages, 'message')})`);
  if (found.keys > 0) say(`  ${plural(found.keys, 'Redis key')} matching ${keyPattern(ns)}`);
  if (found.database) say(`  ClickHouse database ${ns.database}, with all its tables`);
  if (found.mails !== undefined)
    say(
      `  the quick start's mail folder ${relative(process.cwd(), mailFolder(config, ns))} (${plural(found.mails, 'mail')})`,
    );
}

/** Goes on only when the name is typed on a terminal: a script or a pipe must say --yes. */
async function confirm(name: string): Promise<void> {
  const abort = (why: string) =>
    new InputError(`drop ${name}`, [`${why}: ${NOTHING_REMOVED} (--yes skips the question)`]);
  if (!process.stdin.isTTY) throw abort('stdin is not a terminal to confirm on');
  const answer = await typedLine(`Drop namespace ${name}? Type its name to confirm: `);
  if (answer === undefined) throw abort('no answer');
  if (answer.trim() !== name) throw abort(`${JSON.stringify(answer.trim())} is not ${name}`);
}

/** The line typed at the prompt, or undefined on end of input (Ctrl-D) or Ctrl-C. */
function typedLine(prompt: string): Promise<string | undefined> {
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  return new Promise((resolve) => {
    let answer: string | undefined;
    rl.on('close', () => {
      // Ends the prompt's line, so that the reason for stopping starts on its own.
      if (answer === undefined) process.stderr.write('\n');
      resolve(answer);
    });
    // Ctrl-C: readline holds the terminal in raw mode, so it arrives here, not as a signal.
    rl.on('SIGINT', () => {
      rl.close();
    });
    rl.question(prompt, (line) => {
      answer = line;
      rl.close();
    });
  });
}

/** Removes what is there now (not only what was listed): a re-run after a failure finishes the job. */
async function drop(services: Services, ns: Namespace, config: Config): Promise<void> {
  let streams = 0;
  for (const name of ns.streams) {
    if (await answered('NATS', config.natsUrl, REMOVING, () => deleteStream(services.jsm, name))) {
      say(`removed JetStream stream ${name}`);
      streams++;
    }
  }
  let keys = 0;
  await answered('Redis', config.redisUrl, REMOVING, async () => {
    for await (const batch of scanKeys(services.redis, ns)) {
      // UNLINK frees the memory in the background: a large user-state hash never stalls Redis.
      if (batch.length > 0) keys += await unlink(services.redis, batch);
    }
  });
  if (keys > 0) say(`removed ${plural(keys, 'Redis key')} matching ${keyPattern(ns)}`);
  const database = await answered('ClickHouse', config.clickhouseUrl, REMOVING, async () => {
    const existed = await databaseExists(services.clickhouse, ns.database);
    await services.clickhouse.command({ query: sql`DROP DATABASE IF EXISTS ${ident(ns.database)}`.text });
    return existed;
  });
  if (database) say(`removed ClickHouse database ${ns.database}`);
  const folder = mailFolder(config, ns);
  if (
    await stat(folder).then(
      () => true,
      () => false,
    )
  ) {
    await rm(folder, { recursive: true, force: true });
    say(`removed the quick start's mail folder ${relative(process.cwd(), folder)}`);
  }
  say(
    `namespace ${ns.name} dropped: ${plural(streams, 'stream')}, ${plural(keys, 'Redis key')}, ${plural(database ? 1 : 0, 'database')}`,
  );
}

/** Whether the stream was there to delete. */
async function deleteStream(jsm: JetStreamManager, name: string): Promise<boolean> {
  try {
    return await jsm.streams.delete(name);
  } catch (error) {
    if (error instanceof NatsError && error.api_error?.err_code === STREAM_NOT_FOUND) return false;
    throw error;
  }
}

/**
 * The colon keeps `nudge2:…` out of `nudge`'s keys; a namespace's characters are none of the
 * glob's (`*?[]\`), so the name matches only itself.
 */
const keyPattern = (ns: Namespace) => `${ns.name}:*`;

/**
 * The namespace's keys, a SCAN batch at a time (never KEYS: it blocks Redis for the whole
 * keyspace); on a Redis Cluster, every master's, each batch one node's.
 */
async function* scanKeys(redis: RedisClient, ns: Namespace): AsyncGenerator<string[]> {
  const nodes = redis instanceof Cluster ? redis.nodes('master') : [redis];
  for (const node of nodes) {
    let cursor = '0';
    do {
      const [next, keys] = await node.scan(cursor, 'MATCH', keyPattern(ns), 'COUNT', SCAN_COUNT);
      cursor = next;
      yield keys;
    } while (cursor !== '0');
  }
}

/** Unlinks keys; on a Redis Cluster one at a time in a pipeline, as a batch spans slots. */
async function unlink(redis: RedisClient, keys: readonly string[]): Promise<number> {
  if (!(redis instanceof Cluster)) return redis.unlink(...keys);
  const pipeline = redis.pipeline();
  for (const key of keys) pipeline.unlink(key);
  const results = (await pipeline.exec()) ?? [];
  return results.reduce((sum, [error, removed]) => (error === null ? sum + Number(removed) : sum), 0);
}

async function databaseExists(clickhouse: ClickHouseClient, database: string): Promise<boolean> {
  const result = await clickhouse.query({
    query: sql`SELECT count() AS n FROM system.databases WHERE name = ${database}`.text,
    format: 'JSONEachRow',
  });
  const rows = await result.json<{ n: string | number }>();
  return Number(rows[0]?.n ?? 0) > 0;
}

/** Runs `work` against a service, naming the service and where it was asked if it fails. */
async function answered<T>(service: string, url: string, stage: Stage, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    throw failure(service, url, error, stage);
  }
}

function failure(service: string, url: string, error: unknown, stage: Stage): InputError {
  const reason = error instanceof Error ? error.message : String(error);
  return new InputError(
    `${service} at ${withoutPassword(url)}`,
    [`${stage.failed} (${reason})`, stage.then],
    {
      cause: error,
    },
  );
}

/**
 * A Redis or ClickHouse URL may carry a password: an error message must not print it. Several URLs
 * (a cluster's nodes), separated by commas, each without.
 */
function withoutPassword(urls: string): string {
  return urls
    .split(',')
    .map((url) => {
      const parsed = new URL(url);
      if (parsed.password === '') return url;
      parsed.password = '***';
      return parsed.toString();
    })
    .join(',');
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

function say(line: string): void {
  process.stdout.write(`${line}\n`);
}
