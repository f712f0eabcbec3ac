import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { createClient } from '@clickhouse/client';
import { migrateAudit } from '../pipeline/adapters/clickhouse/audit-schema.ts';
import { ClickHouseAuditSink } from '../pipeline/adapters/clickhouse/clickhouse-audit-sink.ts';
import { webhookEndpoint } from '../pipeline/adapters/http/webhook-endpoint.ts';
import { ensureDeliveriesStream } from '../pipeline/adapters/nats/delivery-forwarder.ts';
import { deliveryReader } from '../pipeline/adapters/nats/stream-readers.ts';
import { loadConfig } from '../pipeline/config/load-config.ts';
import { Namespace } from '../pipeline/namespace.ts';
import { WebhookSender } from '../pipeline/runtime/webhook-sender.ts';
import { stopSignal } from './stop-signal.ts';
import { UsageError } from './usage-error.ts';
import { connectNats } from '../pipeline/adapters/nats/connect-nats.ts';

/** `nudge send webhook --url <url>`: the reference sender, until Ctrl-C. */
export async function sendCommand(args: string[]): Promise<void> {
  const [channel, ...rest] = args;
  if (channel !== 'webhook')
    throw new UsageError('use "send webhook --url <url>" (the reference sender is for the webhook channel)');
  let values;
  try {
    ({ values } = parseArgs({ args: rest, options: { url: { type: 'string' } }, strict: true }));
  } catch (error) {
    throw new UsageError((error as Error).message, { cause: error });
  }
  if (values.url === undefined || !URL.canParse(values.url))
    throw new UsageError('--url <http(s) URL> is required');
  const config = loadConfig(process.env);
  const ns = new Namespace(config.namespace);
  const signal = stopSignal();
  const nc = await connectNats(config.natsUrl, 'nudge send');
  const clickhouse = createClient({ url: config.clickhouseUrl });
  try {
    const [js, jsm] = [nc.jetstream(), await nc.jetstreamManager()];
    await ensureDeliveriesStream(jsm, ns);
    await migrateAudit(clickhouse, ns.database);
    const audit = new ClickHouseAuditSink(clickhouse, ns.database);
    const sender = new WebhookSender({
      reader: deliveryReader(js, jsm, ns, 'webhook', 'sender_webhook'),
      post: webhookEndpoint(values.url),
      record: (outcomes) => audit.insertOutcomes(outcomes),
      now: Date.now,
    });
    process.stdout.write(`sender: webhook deliveries of ${ns.name} to ${values.url}; Ctrl-C stops\n`);
    while (!signal.aborted) {
      await sender.step().catch(async (error: unknown) => {
        process.stdout.write(`sender: ${(error as Error).message}; retrying\n`);
        await sleep(1_000, undefined, { signal }).catch(() => undefined);
      });
    }
  } finally {
    await nc.drain();
    await clickhouse.close();
  }
}
