import { parseArgs } from 'node:util';
import { readJsonDefinitions } from '../pipeline/adapters/file/json-definitions-file.ts';
import { applyCaps, applyMessages, ensureCatalogStream } from '../pipeline/adapters/nats/catalog-stream.ts';
import { loadConfig, namespaceOf } from '../pipeline/config/load-config.ts';
import { GlobalCapListSchema, MessageListSchema } from '../pipeline/core/message-schema.ts';
import { UsageError } from './usage-error.ts';
import { connectNats } from '../pipeline/adapters/nats/connect-nats.ts';

/** `nudge messages apply --file <messages.json> [--caps <caps.json>]` */
export async function messagesCommand(args: string[]): Promise<void> {
  const [action, ...rest] = args;
  if (action !== 'apply')
    throw new UsageError('use "messages apply --file <messages.json> [--caps <caps.json>]"');
  let values;
  try {
    ({ values } = parseArgs({
      args: rest,
      options: { file: { type: 'string' }, caps: { type: 'string' } },
      strict: true,
    }));
  } catch (error) {
    throw new UsageError((error as Error).message, { cause: error });
  }
  if (values.file === undefined && values.caps === undefined)
    throw new UsageError('--file <messages.json> or --caps <caps.json> is required');
  // Both files are checked before anything is stored.
  const messages = values.file === undefined ? [] : await readJsonDefinitions(values.file, MessageListSchema);
  const caps =
    values.caps === undefined ? undefined : await readJsonDefinitions(values.caps, GlobalCapListSchema);
  const config = loadConfig(process.env);
  const ns = namespaceOf(config);
  const nc = await connectNats(config.natsUrl, 'nudge messages');
  try {
    const [js, jsm] = [nc.jetstream(), await nc.jetstreamManager()];
    await ensureCatalogStream(jsm, ns);
    for (const outcome of await applyMessages(js, jsm, ns, messages, Date.now())) {
      process.stdout.write(`message ${outcome.id}: ${outcome.change} (version ${outcome.version})\n`);
    }
    if (caps !== undefined)
      process.stdout.write(`caps: ${(await applyCaps(js, jsm, ns, caps)) ? 'updated' : 'unchanged'}\n`);
  } finally {
    await nc.drain();
  }
}
