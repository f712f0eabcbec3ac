import { InputError } from '../pipeline/errors.ts';
import { apiCommand } from './api-command.ts';
import { ingestCommand } from './ingest-command.ts';
import { keysCommand } from './keys-command.ts';
import { messagesCommand } from './messages-command.ts';
import { recordedReplayCommand, sweepCommand } from './recorded-replay-command.ts';
import { replayCommand } from './replay-command.ts';
import { sendCommand } from './send-command.ts';
import { servicesCommand } from './services-command.ts';
import { quickstartCommand } from './quickstart-command.ts';
import { startCommand } from './start-command.ts';
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
  services down
         stop the services "services up" started, and only those
  start  run the HTTP API and the matcher (with the audit writers and the delivery
         forwarder), until Ctrl-C
  api    run the HTTP API alone (to scale it apart from the matchers)
  keys create --scope <ingest|read|admin>[,…] --name <name> [--rate <requests a minute>]
  keys list | keys revoke <id>
         API keys: create prints the key once (stored hashed)
  send webhook --url <url>
         the reference sender: POSTs webhook deliveries with retries and backoff, and
         records each outcome in ClickHouse (delivery_outcomes)
  quickstart
         the demo (npm start): demo messages applied, the matcher running and demo
         traffic flowing, with where to look; Ctrl-C stops
  help   this text`;

const commands: Record<string, (args: string[]) => Promise<void>> = {
  ingest: ingestCommand,
  messages: messagesCommand,
  replay: (args) =>
    args.some((arg) => arg === '--from' || arg.startsWith('--from='))
      ? recordedReplayCommand(args)
      : replayCommand(args),
  sweep: sweepCommand,
  send: sendCommand,
  api: () => apiCommand(),
  keys: keysCommand,
  services: servicesCommand,
  start: () => startCommand(),
  quickstart: () => quickstartCommand(),
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
