import { readJsonDefinitions } from '../pipeline/adapters/file/json-definitions-file.ts';
import { applyCaps, applyMessages, ensureCatalogStream } from '../pipeline/adapters/nats/catalog-stream.ts';
import { ensureLogStream } from '../pipeline/adapters/nats/log-stream.ts';
import { loadConfig } from '../pipeline/config/load-config.ts';
import { GlobalCapListSchema, MessageListSchema } from '../pipeline/core/message-schema.ts';
import { Namespace } from '../pipeline/namespace.ts';
import { demoTraffic } from './demo/demo-traffic.ts';
import { Redis } from 'ioredis';
import { RedisKeyStore } from '../api/adapters/redis-key-store.ts';
import { newApiKey } from '../api/auth/api-keys.ts';
import type { Config } from '../pipeline/config/load-config.ts';
import { runApi } from './api-command.ts';
import { runMatcher } from './start-command.ts';
import { stopSignal } from './stop-signal.ts';
import { connectNats } from '../pipeline/adapters/nats/connect-nats.ts';

const demo = (file: string) => new URL(`demo/${file}`, import.meta.url).pathname;

/** `nudge quickstart` (`npm start`): demo messages applied, the matcher running, demo traffic flowing, until Ctrl-C. */
export async function quickstartCommand(): Promise<void> {
  const config = loadConfig(process.env);
  const ns = new Namespace(config.namespace);
  const signal = stopSignal();
  const nc = await connectNats(config.natsUrl, 'nudge quickstart');
  try {
    const [js, jsm] = [nc.jetstream(), await nc.jetstreamManager()];
    await ensureCatalogStream(jsm, ns);
    await ensureLogStream(jsm, ns, config.partitions);
    const messages = await readJsonDefinitions(demo('messages.json'), MessageListSchema);
    for (const outcome of await applyMessages(js, jsm, ns, messages, Date.now())) {
      process.stdout.write(`demo: message ${outcome.id} ${outcome.change} (version ${outcome.version})\n`);
    }
    await applyCaps(js, jsm, ns, await readJsonDefinitions(demo('caps.json'), GlobalCapListSchema));
    const key = await demoKey(config, ns);
    process.stdout.write(whereToLook(config, ns, key));
    const [, , sent] = await Promise.all([
      runMatcher(config, signal, (line) => process.stdout.write(`matcher: ${line}\n`)),
      runApi(config, signal, (line) => process.stdout.write(`api: ${line}\n`)),
      demoTraffic(nc, ns, config, signal),
    ]);
    process.stdout.write(`demo: stopped after ${sent} entries\n`);
  } finally {
    await nc.drain();
  }
}

/** An admin key for the demo, made anew each run (the previous run's is revoked: a key is only ever shown once). */
async function demoKey(config: Config, ns: Namespace): Promise<string> {
  const redis = new Redis(config.redisUrl);
  try {
    const store = new RedisKeyStore(redis, ns);
    for (const record of await store.list())
      if (record.name === DEMO_KEY_NAME && record.revoked_at === null)
        await store.put({ ...record, revoked_at: Date.now() });
    const { id, key, hash } = newApiKey();
    await store.put({
      id,
      name: DEMO_KEY_NAME,
      scopes: ['admin'],
      hash,
      created_at: Date.now(),
      revoked_at: null,
    });
    return key;
  } finally {
    await redis.quit();
  }
}

const DEMO_KEY_NAME = 'quickstart demo';

function whereToLook(config: Config, ns: Namespace, key: string): string {
  const query = (sql: string) => `  curl -s '${config.clickhouseUrl}/' --data-binary "${sql}"`;
  const api = `http://${config.apiHost}:${config.apiPort}`;
  return `
demo: traffic is flowing: 20 users, about 5 entries a second. Where to look:
  the HTTP API, with this run's admin key (API docs at ${api}/docs):
  curl -s ${api}/v1/events -H 'authorization: Bearer ${key}' -H 'content-type: application/json' \\
    -d '{"type":"track","name":"upload-completed","user_id":"demo-user-1","metadata":{"file_name":"q3.pdf"}}'
  decisions by outcome and reason, in ClickHouse:
${query(`SELECT outcome, reason, count() FROM ${ns.database}.decisions FINAL GROUP BY outcome, reason ORDER BY count() DESC`)}
  why did (or didn't) a user get a message:
${query(`SELECT at, message_id, outcome, explanation FROM ${ns.database}.decisions FINAL WHERE user_id = 'demo-user-3' ORDER BY at DESC LIMIT 10 FORMAT PrettyCompact`)}
  what senders receive: the JetStream stream ${ns.deliveriesStream} (subjects ${ns.name}.deliveries.<channel>)
  the messages: bin/demo/messages.json (change it, then: npx nudge messages apply --file bin/demo/messages.json)
demo: Ctrl-C stops.

`;
}
