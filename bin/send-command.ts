import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { createClient } from '@clickhouse/client';
import { Redis } from 'ioredis';
import { migrateAudit } from '../pipeline/adapters/clickhouse/audit-schema.ts';
import { ClickHouseAuditSink } from '../pipeline/adapters/clickhouse/clickhouse-audit-sink.ts';
import { webhookEndpoint } from '../pipeline/adapters/http/webhook-endpoint.ts';
import { ensureDeliveriesStream } from '../pipeline/adapters/nats/delivery-forwarder.ts';
import { deliveryReader } from '../pipeline/adapters/nats/stream-readers.ts';
import { RedisStateStore } from '../pipeline/adapters/redis/redis-state-store.ts';
import { SmtpMailer } from '../pipeline/adapters/smtp/smtp-mailer.ts';
import { loadConfig } from '../pipeline/config/load-config.ts';
import type { Config } from '../pipeline/config/load-config.ts';
import { Namespace } from '../pipeline/namespace.ts';
import type { ChannelSend } from '../pipeline/ports/channel.ts';
import { ChannelSender } from '../pipeline/runtime/channel-sender.ts';
import { emailChannel } from '../pipeline/runtime/email-channel.ts';
import { webhookResult } from '../pipeline/runtime/webhook-sender.ts';
import { stopSignal } from './stop-signal.ts';
import { UsageError } from './usage-error.ts';
import { connectNats } from '../pipeline/adapters/nats/connect-nats.ts';

const USAGE = 'use "send webhook --url <url>" or "send email --smtp smtp://host:port --from <address>"';

/** A channel's send, what it goes to (for people), and what to close once stopped. */
export type Channel = {
  readonly send: ChannelSend;
  readonly target: string;
  readonly close: () => Promise<void>;
};

/** `nudge send webhook --url <url>` and `nudge send email --smtp <url> --from <address>`: a sender, until Ctrl-C. */
export async function sendCommand(args: string[]): Promise<void> {
  const [name, ...rest] = args;
  if (name !== 'webhook' && name !== 'email') throw new UsageError(USAGE);
  const values = parseOptions(rest);
  const config = loadConfig(process.env);
  const ns = new Namespace(config.namespace);
  const channel = name === 'webhook' ? webhookChannel(values) : emailChannelFor(values, config, ns);
  try {
    await runSender(name, channel, config, ns, stopSignal(), (line) =>
      process.stdout.write(`sender: ${line}\n`),
    );
  } finally {
    await channel.close();
  }
}

/** Reads the channel's deliveries and sends them, recording each outcome, until the signal aborts. */
export async function runSender(
  name: 'webhook' | 'email',
  channel: Channel,
  config: Config,
  ns: Namespace,
  signal: AbortSignal,
  report: (line: string) => void,
): Promise<void> {
  const nc = await connectNats(config.natsUrl, 'nudge send');
  const clickhouse = createClient({ url: config.clickhouseUrl });
  try {
    const [js, jsm] = [nc.jetstream(), await nc.jetstreamManager()];
    await ensureDeliveriesStream(jsm, ns);
    await migrateAudit(clickhouse, ns.database);
    const audit = new ClickHouseAuditSink(clickhouse, ns.database);
    const sender = new ChannelSender({
      reader: deliveryReader(js, jsm, ns, name, `sender_${name}`),
      send: channel.send,
      record: (outcomes) => audit.insertOutcomes(outcomes),
      now: Date.now,
      report: (line) => {
        report(line.trimEnd());
      },
    });
    report(`${name} deliveries of ${ns.name} to ${channel.target}; Ctrl-C stops`);
    while (!signal.aborted) {
      await sender.step().catch(async (error: unknown) => {
        report(`${(error as Error).message}; retrying`);
        await sleep(1_000, undefined, { signal }).catch(() => undefined);
      });
    }
  } finally {
    await nc.drain();
    await clickhouse.close();
  }
}

export type Options = { url?: string | undefined; smtp?: string | undefined; from?: string | undefined };

function parseOptions(args: string[]): Options {
  try {
    const options = { url: { type: 'string' }, smtp: { type: 'string' }, from: { type: 'string' } } as const;
    return parseArgs({ args, options, strict: true }).values;
  } catch (error) {
    throw new UsageError((error as Error).message, { cause: error });
  }
}

function webhookChannel({ url }: Options): Channel {
  if (url === undefined || !URL.canParse(url)) throw new UsageError('--url <http(s) URL> is required');
  const post = webhookEndpoint(url);
  return {
    send: async (delivery) => webhookResult(await post(delivery)),
    target: url,
    close: () => Promise.resolve(),
  };
}

export function emailChannelFor({ smtp, from }: Options, config: Config, ns: Namespace): Channel {
  const smtpUrl = smtp !== undefined && URL.canParse(smtp) ? new URL(smtp) : undefined;
  if (smtpUrl === undefined || !['smtp:', 'smtps:'].includes(smtpUrl.protocol) || smtpUrl.hostname === '')
    throw new UsageError('--smtp smtp://host:port (or smtps://) is required');
  if (from === undefined || !/@[^\s@<>]+>?\s*$/.test(from))
    throw new UsageError(
      '--from <address> is required, as no-reply@example.com or "Name" <no-reply@example.com>',
    );
  const redis = new Redis(config.redisUrl);
  const mailer = new SmtpMailer({ url: smtpUrl.href, from });
  return {
    send: emailChannel({ states: new RedisStateStore(redis, ns), partitions: config.partitions, mailer }),
    target: `${smtpUrl.host} as ${from}`,
    close: async () => {
      mailer.close();
      await redis.quit();
    },
  };
}
