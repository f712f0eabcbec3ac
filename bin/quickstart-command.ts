import { readJsonDefinitions } from '../pipeline/adapters/file/json-definitions-file.ts';
import { randomUUID } from 'node:crypto';
import type { JetStreamClient, JetStreamManager } from 'nats';
import {
  applyCaps,
  applyMessages,
  ensureCatalogStream,
  readCatalog,
} from '../pipeline/adapters/nats/catalog-stream.ts';
import { ensureLogStream } from '../pipeline/adapters/nats/log-stream.ts';
import { loadConfig, namespaceOf } from '../pipeline/config/load-config.ts';
import { GlobalCapListSchema, MessageListSchema } from '../pipeline/core/message-schema.ts';
import { Namespace } from '../pipeline/namespace.ts';
import { demoTraffic } from './demo/demo-traffic.ts';
import { openKeyStore } from './open-key-store.ts';
import { newApiKey, parseApiKey } from '../api/auth/api-keys.ts';
import { newClientSecret, userHash } from '../api/auth/user-hash.ts';
import type { DemoPage } from '../api/routes/demo/demo.routes.ts';
import type { Config } from '../pipeline/config/load-config.ts';
import { runApi } from './api-command.ts';
import { runMatcher } from './start-command.ts';
import { runTogether, stopSignal } from './stop-signal.ts';
import { emailChannelFor, runSender } from './send-command.ts';
import { startMailSink } from '../pipeline/adapters/smtp/mail-sink.ts';
import { relative, resolve } from 'node:path';
import { connectNats } from '../pipeline/adapters/nats/connect-nats.ts';

const demo = (file: string) => new URL(`demo/${file}`, import.meta.url).pathname;

/** `nudge quickstart` (`npm start`): demo messages applied, the matcher running, demo traffic flowing, until Ctrl-C. */
export async function quickstartCommand(): Promise<void> {
  const config = loadConfig(process.env);
  const ns = namespaceOf(config);
  const signal = stopSignal();
  const say = (line: string) => process.stdout.write(`demo: ${line}\n`);
  const nc = await connectNats(config.natsUrl, 'nudge quickstart');
  try {
    const [js, jsm] = [nc.jetstream(), await nc.jetstreamManager()];
    await ensureCatalogStream(jsm, ns);
    await ensureLogStream(jsm, ns, config.partitions);
    await applyDemoCatalog(js, jsm, ns, say);
    const newcomer = `you-${randomUUID().slice(0, 4)}`;
    const page = await demoPage(config, ns);
    // Mail goes to a real SMTP server of its own, kept as .eml files: no account, no real inbox.
    const sink = await startMailSink(resolve(config.dataDir, 'mail', ns.name));
    const email = await emailChannelFor({ smtp: sink.url, from: DEMO_FROM }, config, ns);
    const [, , sent] = await runTogether(signal, [
      (stop) =>
        runMatcher(
          config,
          stop,
          quieter((line) => process.stdout.write(`matcher: ${line}\n`)),
        ),
      // "Where to look" once the API listens, so that the first curl tried is answered.
      (stop) =>
        runApi(
          config,
          stop,
          (line) => process.stdout.write(`api: ${line}\n`),
          undefined,
          // The key too: made only by a run whose API came up, so a second run cannot revoke a working one's.
          async (address) => {
            const key = await demoKey(config, ns, page.key);
            process.stdout.write(whereToLook(config, ns, address, key, newcomer, sink.dir));
          },
          page,
        ),
      (stop) => demoTraffic(nc, ns, config, stop),
      (stop) =>
        runSender('email', email, config, ns, stop, (line) => {
          process.stdout.write(`sender: ${line}\n`);
        }),
    ]);
    say(`stopped after ${sent} entries`);
    await email.close();
    await sink.close();
  } finally {
    await nc.drain();
  }
}

/**
 * The demo's messages and caps, stored where the catalog has none yet: a message or caps the
 * user changed (through the API or `nudge messages apply`) are theirs, and a restart keeps them.
 */
async function applyDemoCatalog(
  js: JetStreamClient,
  jsm: JetStreamManager,
  ns: Namespace,
  say: (line: string) => void,
): Promise<void> {
  const catalog = await readCatalog(jsm, ns);
  const stored = new Map(catalog.messages.map((message) => [message.id, message]));
  // The demo page's banner is apart from messages.json, which the README's replays read.
  const messages = [
    ...(await readJsonDefinitions(demo('messages.json'), MessageListSchema)),
    ...(await readJsonDefinitions(demo('page-messages.json'), MessageListSchema)),
  ];
  for (const message of messages) {
    const kept = stored.get(message.id);
    if (kept !== undefined) say(`message ${kept.id} kept as stored (version ${kept.version}, ${kept.state})`);
  }
  const missing = messages.filter((message) => !stored.has(message.id));
  for (const outcome of await applyMessages(js, jsm, ns, missing, Date.now()))
    say(`message ${outcome.id} ${outcome.change} (version ${outcome.version})`);
  if (catalog.capsVersion !== 0) {
    say(`caps kept as stored: ${JSON.stringify(catalog.caps)} (the demo's are in bin/demo/caps.json)`);
    return;
  }
  const caps = await readJsonDefinitions(demo('caps.json'), GlobalCapListSchema);
  await applyCaps(js, jsm, ns, caps);
  say(`caps set: ${JSON.stringify(caps)}`);
}

/**
 * The demo page's visitor, with a client key and the user hash a customer's server would give the
 * page (the client secret is made if the deployment has none yet).
 */
async function demoPage(config: Config, ns: Namespace): Promise<DemoPage> {
  const { store, close } = await openKeyStore(config, ns, 'nudge quickstart');
  try {
    const secret = await store.ensureClientSecret(newClientSecret());
    const { id, key, hash } = newApiKey();
    await store.put({
      id,
      name: DEMO_CLIENT_KEY_NAME,
      scopes: ['client'],
      hash,
      created_at: Date.now(),
      revoked_at: null,
    });
    const userId = `visitor-${randomUUID().slice(0, 4)}`;
    return { key, userId, userHash: userHash(secret, userId) };
  } finally {
    await close();
  }
}

/**
 * An admin key for the demo, made anew each run: the previous run's keys are revoked (a key is
 * only ever shown once), the admin key and the client keys but this run's.
 */
async function demoKey(config: Config, ns: Namespace, clientKey: string): Promise<string> {
  const { store, close } = await openKeyStore(config, ns, 'nudge quickstart');
  try {
    const current = parseApiKey(clientKey)?.id;
    for (const record of await store.list())
      if (
        (record.name === DEMO_KEY_NAME || (record.name === DEMO_CLIENT_KEY_NAME && record.id !== current)) &&
        record.revoked_at === null
      )
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
    await close();
  }
}

const DEMO_KEY_NAME = 'quickstart demo';
const DEMO_FROM = '"Acme Files" <hello@acme.example>';
const DEMO_CLIENT_KEY_NAME = 'quickstart demo page';

/** The matcher's status line once a minute rather than every five seconds: "where to look" stays on the screen. */
function quieter(report: (line: string) => void): (line: string) => void {
  let last = 0;
  return (line) => {
    if (line.startsWith('partitions ')) {
      if (Date.now() - last < 60_000) return;
      last = Date.now();
    }
    report(line);
  };
}

/** What the quick start prints once the API listens: where to look, and a first request that leads to a send. */
function whereToLook(
  config: Config,
  ns: Namespace,
  api: string,
  key: string,
  user: string,
  mailDir: string,
): string {
  // `api` is the listening address; a page opened on it reaches the API from the same origin.
  const auth = `-H 'authorization: Bearer ${key}'`;
  const query = (sql: string) => `    curl -s '${config.clickhouseUrl}/' --data-binary "${sql}"`;
  const upload = JSON.stringify({
    events: [
      {
        type: 'identify',
        user_id: user,
        attributes: { plan: 'pro', first_name: 'Ada', email: `${user}@example.com` },
      },
      {
        type: 'track',
        name: 'upload-completed',
        user_id: user,
        metadata: { file_name: 'talk.mp4', duration_s: 300 },
        context: { url: 'https://app.example/uploads' },
      },
    ],
  });
  return `
demo: traffic is flowing: 20 users, about 5 entries a second. Where to look:

  The demo app: click "Upload a file" and see the banner Nudge sends you; again within the hour, none
    ${api}/demo
  The mail an upload there brings (SMTP to a local sink, each mail an .eml file)
    ${relative(process.cwd(), mailDir) || mailDir}/
  The dashboard: sends, suppressions and why, per message and per user
    ${api}/dashboard?key=${key}
  The API, to read and try every route (this run's admin key is ${key})
    ${api}/docs

  Try it: an upload by a new user, ${user}, who is then mailed "upload-ready" ("talk.mp4 is ready, Ada"):
    curl -s ${api}/v1/events ${auth} -H 'content-type: application/json' \\
      -d '${upload}'
  What was decided for ${user}, and why (give the matcher a second):
    curl -s ${api}/v1/users/${user}/decisions ${auth}
  Send the same upload again within the hour: this time "upload-ready" is suppressed (min_interval 1h).

  Decisions by outcome and reason, in ClickHouse:
${query(`SELECT outcome, reason, count() FROM ${ns.database}.decisions FINAL GROUP BY outcome, reason ORDER BY count() DESC`)}
  What senders receive: the JetStream stream ${ns.deliveriesStream} (subjects ${ns.name}.deliveries.<channel>)
  The demo's messages: bin/demo/messages.json. Change them with the API (PUT /v1/messages/<id>) or
    npx nudge messages apply --file <file.json>; a restart keeps what you changed.
demo: Ctrl-C stops.

`;
}
