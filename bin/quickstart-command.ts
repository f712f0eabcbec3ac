import { readJsonDefinitions } from '../pipeline/adapters/file/json-definitions-file.ts';
import { applyCaps, applyMessages, ensureCatalogStream } from '../pipeline/adapters/nats/catalog-stream.ts';
import { ensureLogStream } from '../pipeline/adapters/nats/log-stream.ts';
import { loadConfig } from '../pipeline/config/load-config.ts';
import { GlobalCapListSchema, MessageListSchema } from '../pipeline/core/message-schema.ts';
import { Namespace } from '../pipeline/namespace.ts';
import { demoTraffic } from './demo/demo-traffic.ts';
import { runMatcher, stopSignal } from './start-command.ts';
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
    process.stdout.write(whereToLook(config.clickhouseUrl, ns));
    const [, sent] = await Promise.all([
      runMatcher(config, signal, (line) => process.stdout.write(`matcher: ${line}\n`)),
      demoTraffic(nc, ns, config, signal),
    ]);
    process.stdout.write(`demo: stopped after ${sent} entries\n`);
  } finally {
    await nc.drain();
  }
}

function whereToLook(clickhouseUrl: string, ns: Namespace): string {
  const query = (sql: string) => `  curl -s '${clickhouseUrl}/' --data-binary "${sql}"`;
  return `
demo: traffic is flowing: 20 users, about 5 entries a second. Where to look:
  decisions by outcome and reason, in ClickHouse:
${query(`SELECT outcome, reason, count() FROM ${ns.database}.decisions FINAL GROUP BY outcome, reason ORDER BY count() DESC`)}
  why did (or didn't) a user get a message:
${query(`SELECT at, message_id, outcome, explanation FROM ${ns.database}.decisions FINAL WHERE user_id = 'demo-user-3' ORDER BY at DESC LIMIT 10 FORMAT PrettyCompact`)}
  what senders receive: the JetStream stream ${ns.deliveriesStream} (subjects ${ns.name}.deliveries.<channel>)
  the messages: bin/demo/messages.json (change it, then: npx nudge messages apply --file bin/demo/messages.json)
demo: Ctrl-C stops.

`;
}
