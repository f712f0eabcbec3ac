import { parseArgs } from 'node:util';
import { NdjsonLogFile } from '../pipeline/adapters/file/ndjson-log-file.ts';
import { readJsonDefinitions } from '../pipeline/adapters/file/json-definitions-file.ts';
import { compileCaps } from '../pipeline/core/caps.ts';
import { eligibility, eligibilityReport } from '../pipeline/core/eligibility.ts';
import { INSTANT_HINT, parseInstantInput, resolveInstant } from '../pipeline/core/instant.ts';
import { GlobalCapListSchema, MessageListSchema } from '../pipeline/core/message-schema.ts';
import { buildRuleIndex } from '../pipeline/core/rule-index.ts';
import { Replayer } from '../pipeline/replay/replayer.ts';
import { InputError } from '../pipeline/errors.ts';
import { UsageError } from './usage-error.ts';

/**
 * `nudge eligibility --log <file.ndjson> --messages <file.json> [--caps <file.json>] --user <id>
 * --message <id> [--at <time>]`: when can this user next get this message, offline. The user's
 * entries of the log up to `--at` (default now) are decided with the message set, as a replay
 * would, and the answer is the API's (`GET /v1/users/:id/eligibility`), as JSON.
 */
export async function eligibilityCommand(args: string[]): Promise<void> {
  const options = parseEligibilityArgs(args);
  const messages = await readJsonDefinitions(options.messages, MessageListSchema);
  const message = messages.find((m) => m.id === options.message);
  if (message === undefined)
    throw new InputError(options.messages, [
      `no message "${options.message}": the file holds ${messages.map((m) => JSON.stringify(m.id)).join(', ') || 'none'}`,
    ]);
  const caps = compileCaps(
    options.caps === undefined ? [] : await readJsonDefinitions(options.caps, GlobalCapListSchema),
  );
  const replayer = new Replayer(buildRuleIndex(messages), caps);
  // A user's state depends on their own entries only (DESIGN §4), and only those before the question count.
  for await (const batch of new NdjsonLogFile(options.log).batches())
    for (const entry of batch)
      if (entry.user_id === options.user && entry.received_at <= options.at) replayer.apply(entry);
  const answer = eligibility(replayer.stateOf(options.user), message, caps, options.user, options.at);
  process.stdout.write(JSON.stringify(eligibilityReport(options.user, message.id, answer), null, 2) + '\n');
}

function parseEligibilityArgs(args: string[]) {
  let values;
  try {
    ({ values } = parseArgs({
      args,
      options: {
        log: { type: 'string' },
        messages: { type: 'string' },
        caps: { type: 'string' },
        user: { type: 'string' },
        message: { type: 'string' },
        at: { type: 'string' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    throw new UsageError((error as Error).message, { cause: error });
  }
  const { log, messages, caps, user, message } = values;
  if (log === undefined) throw new UsageError('--log <file.ndjson> is required');
  if (messages === undefined) throw new UsageError('--messages <file.json> is required');
  if (user === undefined || user === '') throw new UsageError('--user <id> is required');
  if (message === undefined || message === '') throw new UsageError('--message <id> is required');
  let at = Date.now();
  if (values.at !== undefined) {
    const instant = parseInstantInput(values.at);
    if (instant === undefined) throw new UsageError(`--at ${JSON.stringify(values.at)}: ${INSTANT_HINT}`);
    at = resolveInstant(instant, at);
  }
  return { log, messages, caps, user, message, at };
}
