import { InputError } from '../pipeline/errors.ts';
import { UsageError } from './usage-error.ts';

const USAGE = `usage: nudge <command> [options]

commands:
  replay --log <file.ndjson> --messages <file.json> [--caps <file.json>] [--out <file.ndjson>] [--explain]
         decide a recorded log with a message set, no services needed (DESIGN §7);
         --explain adds each decision's explanation for a person as a last key
  replay --from <time> --to <time> [--messages <overrides.json>] [--caps <caps.json>]
         replay a window of the recorded log (ClickHouse) with the recorded messages, or
         some overridden: prints the report (identical, or what changed), keeps the decisions
         in replay_decisions; times as ISO 8601, epoch ms, or now / now-2h / now-7d
  eligibility --log <file.ndjson> --messages <file.json> [--caps <file.json>] --user <id>
         --message <id> [--at <time>]
         when can this user next get this message: the user's entries up to --at (default
         now) decided offline, answered as GET /v1/users/:id/eligibility does (JSON)
  sweep  --from <time> --to <time> (--message <id> --limit min_interval|max_sends
         | --cap <n> --field max|per) --values <v,v,…>
         replay the window once per value of one limit: sends, suppressions, users reached
  ingest --file <entries.ndjson> [--keep-time]
         publish entries to the log (JetStream), packed per partition; received_at is
         stamped now unless --keep-time keeps the recorded one (backfills, staging replays)
  messages apply --file <messages.json> [--caps <caps.json>]
         store messages (a new version for each that changed) and the global caps
  services up [nats|redis|clickhouse …]
         make NATS (JetStream), Redis and ClickHouse reachable at the configured URLs:
         use what answers; install (apt-get) and start on loopback what does not
  services up --cluster
         start, on loopback beside them, a 3-node NATS cluster (JetStream) and a Redis Cluster
         of 3 masters with a replica each, data under the data folder; prints the settings
  services down [--cluster]
         stop the services "services up" started, and only those (--cluster: the cluster's)
  start [--roles matcher,audit,deliveries,api]
         run the HTTP API and the pipeline until Ctrl-C: every role by default; --roles
         runs some in this process (the matcher, sends included; the audit writers to ClickHouse;
         the held sends and in-app inboxes; the API), others elsewhere
  api    run the HTTP API alone (to scale it apart from the matchers)
  keys create --scope <ingest|read|admin|client>[,…] --name <name> [--rate <requests a minute>]
  keys list | keys revoke <id or key>
         API keys: create prints the key once (stored hashed); a client key is publishable
  keys secret [--rotate]
         the client secret user hashes are made with (HMAC-SHA256 of the user id, hex)
  keys vapid [--rotate] [--subject mailto:<address>]
         the VAPID key pair web push is signed with: prints the public key pages subscribe
         with, making the pair the first time (--subject is then required)
  namespace drop <name> [--yes]
         remove everything a namespace owns: its JetStream streams, its Redis keys and its
         ClickHouse database; lists them and asks for the name first unless --yes
  send webhook --url <url>
         the reference sender: POSTs webhook deliveries with retries and backoff, and
         records each outcome in ClickHouse (delivery_outcomes)
  send email --smtp smtp://host:port --from <address>
         mails email deliveries to each user's email attribute through an SMTP server
         (pooled connections), with retries and backoff; outcomes as for webhook
  send sms --account-sid <sid> --from <number> [--provider-url <url>] [--auth-token <token>]
         texts sms deliveries to each user's phone attribute through Twilio's Messages API
         (or a provider speaking it at --provider-url); the token from NUDGE_SMS_AUTH_TOKEN
         when not given; 429 and 5xx retried, other refusals failed; outcomes as for webhook
  send push [--ttl <seconds>]
         pushes push deliveries to each user's Web Push subscriptions, signed with the keys
         of "keys vapid"; a subscription the push service says is gone (404, 410) is
         removed through the log; retries and outcomes as for webhook
  quickstart
         the demo (npm start): demo messages applied, the matcher running and demo
         traffic flowing, with where to look; Ctrl-C stops
  help   this text`;

// Each command's module is loaded when it runs: loading them all cost every command a second.
const commands: Record<string, (args: string[]) => Promise<void>> = {
  ingest: async (args) => (await import('./ingest-command.ts')).ingestCommand(args),
  messages: async (args) => (await import('./messages-command.ts')).messagesCommand(args),
  replay: async (args) =>
    args.some((arg) => arg === '--from' || arg.startsWith('--from='))
      ? (await import('./recorded-replay-command.ts')).recordedReplayCommand(args)
      : (await import('./replay-command.ts')).replayCommand(args),
  eligibility: async (args) => (await import('./eligibility-command.ts')).eligibilityCommand(args),
  sweep: async (args) => (await import('./recorded-replay-command.ts')).sweepCommand(args),
  send: async (args) => (await import('./send-command.ts')).sendCommand(args),
  api: async () => (await import('./api-command.ts')).apiCommand(),
  keys: async (args) => (await import('./keys-command.ts')).keysCommand(args),
  namespace: async (args) => (await import('./namespace-command.ts')).namespaceCommand(args),
  services: async (args) => (await import('./services-command.ts')).servicesCommand(args),
  start: async (args) => (await import('./start-command.ts')).startCommand(args),
  quickstart: async () => (await import('./quickstart-command.ts')).quickstartCommand(),
  help: () => {
    process.stdout.write(USAGE + '\n');
    return Promise.resolve();
  },
};

async function main(argv: string[]): Promise<number> {
  const [name = 'help', ...args] = argv;
  const command = Object.hasOwn(commands, name) ? commands[name] : undefined;
  if (command === undefined) {
    process.stderr.write(`nudge: unknown command "${name}"\n\n${USAGE}\n`);
    return 2;
  }
  try {
    await command(args);
    return 0;
  } catch (error) {
    if (error instanceof UsageError) {
      process.stderr.write(`nudge ${name}: ${error.message}\n\n${USAGE}\n`);
      return 2;
    }
    if (error instanceof InputError) {
      process.stderr.write(
        `nudge ${name}: ${error.where}:\n${error.problems.map((p) => `  ${p}`).join('\n')}\n`,
      );
      return 1;
    }
    throw error;
  }
}

// Output piped into `head` and the like: a closed pipe ends the command quietly, as in any Unix tool.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code !== 'EPIPE') throw error;
  process.exit(0);
});

process.exitCode = await main(process.argv.slice(2));
