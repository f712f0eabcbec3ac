import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { createClient } from '@clickhouse/client';
import { connectRedis } from '../pipeline/adapters/redis/connect-redis.ts';
import { migrateAudit } from '../pipeline/adapters/clickhouse/audit-schema.ts';
import { ClickHouseAuditSink } from '../pipeline/adapters/clickhouse/clickhouse-audit-sink.ts';
import { TWILIO_API, TwilioSms } from '../pipeline/adapters/http/twilio-sms.ts';
import { webhookEndpoint } from '../pipeline/adapters/http/webhook-endpoint.ts';
import { ensureDeliveriesStream } from '../pipeline/adapters/nats/deliveries-stream.ts';
import { JetStreamPublisher } from '../pipeline/adapters/nats/jetstream-publisher.ts';
import { LogAppender } from '../pipeline/adapters/nats/log-appender.ts';
import { WebPushSender } from '../pipeline/adapters/push/web-push-sender.ts';
import { openKeyStore } from './open-key-store.ts';
import { deliveryReader } from '../pipeline/adapters/nats/stream-readers.ts';
import { RedisStateStore } from '../pipeline/adapters/redis/redis-state-store.ts';
import { RedisSentMarks } from '../pipeline/adapters/redis/redis-sent-marks.ts';
import { SmtpMailer } from '../pipeline/adapters/smtp/smtp-mailer.ts';
import { loadConfig, namespaceOf } from '../pipeline/config/load-config.ts';
import type { Config } from '../pipeline/config/load-config.ts';
import { Namespace } from '../pipeline/namespace.ts';
import type { ChannelSend } from '../pipeline/ports/channel.ts';
import type { Delivery } from '../pipeline/ports/delivery.ts';
import { sentAt } from '../pipeline/ports/delivery.ts';
import { ChannelSender } from '../pipeline/runtime/channel-sender.ts';
import { emailChannel } from '../pipeline/runtime/email-channel.ts';
import { pushChannel } from '../pipeline/runtime/push-channel.ts';
import { markedSend } from '../pipeline/runtime/marked-send.ts';
import { smsChannel } from '../pipeline/runtime/sms-channel.ts';
import { webhookResult } from '../pipeline/runtime/webhook-sender.ts';
import { UnsubscribeLinks } from '../api/auth/unsubscribe-links.ts';
import { stopSignal } from './stop-signal.ts';
import { UsageError } from './usage-error.ts';
import { connectNats } from '../pipeline/adapters/nats/connect-nats.ts';

const USAGE =
  'use "send webhook --url <url>", "send email --smtp smtp://host:port --from <address>" or ' +
  '"send sms --account-sid <sid> --from <number> [--provider-url <url>] [--auth-token <token>]" ' +
  '(the token from NUDGE_SMS_AUTH_TOKEN when not given) or "send push [--ttl <seconds>]"';

/** A channel's send, what it goes to (for people), and what to close once stopped. */
export type Channel = {
  readonly send: ChannelSend;
  readonly target: string;
  readonly close: () => Promise<void>;
};

/** `nudge send webhook|email|sms|push …` (see USAGE): a sender, until Ctrl-C. */
export async function sendCommand(args: string[]): Promise<void> {
  const [name, ...rest] = args;
  if (name !== 'webhook' && name !== 'email' && name !== 'sms' && name !== 'push')
    throw new UsageError(USAGE);
  const values = parseOptions(rest);
  const config = loadConfig(process.env);
  const ns = namespaceOf(config);
  const channel =
    name === 'webhook'
      ? webhookChannel(values)
      : name === 'email'
        ? await emailChannelFor(values, config, ns)
        : name === 'sms'
          ? smsChannelFor(values, config, ns)
          : await pushChannelFor(values, config, ns);
  try {
    await runSender(name, channel, config, ns, stopSignal(), (line) =>
      process.stdout.write(`sender: ${line}\n`),
    );
  } finally {
    await channel.close();
  }
}

/**
 * Deliveries a sender holds, taken and not yet sent: at one send a second (a slow mail server), the
 * last waits 8 s, within the 15 s after which JetStream would deliver it again (a send twice).
 */
const SENDER_MAX_PENDING = 8;

/** Reads the channel's deliveries and sends them, recording each outcome, until the signal aborts. */
export async function runSender(
  name: 'webhook' | 'email' | 'sms' | 'push',
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
      // One delivery at a time: a few waiting, so none waits past the ack wait and is sent twice.
      reader: deliveryReader(js, jsm, ns, name, `sender_${name}`, { maxAckPending: SENDER_MAX_PENDING }),
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

export type Options = {
  url?: string | undefined;
  smtp?: string | undefined;
  from?: string | undefined;
  'provider-url'?: string | undefined;
  'account-sid'?: string | undefined;
  'auth-token'?: string | undefined;
  ttl?: string | undefined;
};

function parseOptions(args: string[]): Options {
  try {
    const options = {
      url: { type: 'string' },
      smtp: { type: 'string' },
      from: { type: 'string' },
      'provider-url': { type: 'string' },
      'account-sid': { type: 'string' },
      'auth-token': { type: 'string' },
      ttl: { type: 'string' },
    } as const;
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

export async function emailChannelFor(
  { smtp, from }: Options,
  config: Config,
  ns: Namespace,
): Promise<Channel> {
  const smtpUrl = smtp !== undefined && URL.canParse(smtp) ? new URL(smtp) : undefined;
  if (smtpUrl === undefined || !['smtp:', 'smtps:'].includes(smtpUrl.protocol) || smtpUrl.hostname === '')
    throw new UsageError('--smtp smtp://host:port (or smtps://) is required');
  if (from === undefined || !/@[^\s@<>]+>?\s*$/.test(from))
    throw new UsageError(
      '--from <address> is required, as no-reply@example.com or "Name" <no-reply@example.com>',
    );
  const redis = connectRedis(config.redisUrl);
  const keys = await openKeyStore(config, ns, 'nudge send email');
  // Every mail carries its signed unsubscribe link, under the address people reach the API at.
  const links = new UnsubscribeLinks(keys.store);
  const mailer = new SmtpMailer({
    url: smtpUrl.href,
    from,
    unsubscribeUrl: (delivery) =>
      links.url(config.publicUrl, {
        user_id: delivery.user_id,
        message_id: delivery.message_id,
        channel: 'email',
      }),
    // And its open pixel, signed with the same secret (README "Deliveries": opens are indicative).
    openPixelUrl: (delivery) =>
      links.openPixelUrl(config.publicUrl, { ...trackTarget(delivery), channel: 'email' }),
  });
  return {
    // SMTP takes no idempotency key: each mail is marked in Redis the moment the server accepts it.
    send: markedSend(
      emailChannel({ states: new RedisStateStore(redis, ns), partitions: config.partitions, mailer }),
      new RedisSentMarks(redis, ns, 'email'),
    ),
    target: `${smtpUrl.host} as ${from}, unsubscribe links under ${config.publicUrl}${
      config.publicUrl.startsWith('https:')
        ? ''
        : ' (not https, which mailbox providers need for one-click unsubscribe: set NUDGE_PUBLIC_URL for real mail)'
    }`,
    close: async () => {
      mailer.close();
      await keys.close();
      await redis.quit();
    },
  };
}

/** The `sms` channel through a provider speaking Twilio's Messages API; the token from the flag, else the environment. */
export function smsChannelFor(options: Options, config: Config, ns: Namespace): Channel {
  const baseUrl = options['provider-url'] ?? TWILIO_API;
  if (!URL.canParse(baseUrl) || !['http:', 'https:'].includes(new URL(baseUrl).protocol))
    throw new UsageError('--provider-url must be an http(s) URL, as https://api.twilio.com (the default)');
  const accountSid = options['account-sid']?.trim() ?? '';
  if (accountSid === '') throw new UsageError('--account-sid <sid> is required');
  const authToken = options['auth-token'] ?? config.smsAuthToken ?? '';
  if (authToken === '')
    throw new UsageError(
      'the auth token is required: NUDGE_SMS_AUTH_TOKEN (kept out of the process list) or --auth-token',
    );
  const from = options.from?.trim() ?? '';
  if (from === '') throw new UsageError('--from <number> is required, as +15005550006');
  const redis = connectRedis(config.redisUrl);
  const provider = new TwilioSms({ baseUrl, accountSid, authToken, from });
  return {
    // Twilio's Messages API documents no idempotency key (the token header serves providers that
    // honour one), so each text is also marked in Redis the moment the provider accepts it.
    send: markedSend(
      smsChannel({ states: new RedisStateStore(redis, ns), partitions: config.partitions, provider }),
      new RedisSentMarks(redis, ns, 'sms'),
    ),
    target: `${new URL(baseUrl).host} account ${accountSid} from ${from}`,
    close: async () => {
      await redis.quit();
    },
  };
}

/**
 * The `push` channel: signed with the VAPID keys `nudge keys vapid` stored, to the subscriptions
 * in the user states; a subscription the push service says is gone is removed through the log.
 */
export async function pushChannelFor({ ttl }: Options, config: Config, ns: Namespace): Promise<Channel> {
  const ttlSeconds = ttl === undefined ? undefined : Number(ttl);
  if (ttlSeconds !== undefined && !(Number.isInteger(ttlSeconds) && ttlSeconds >= 0))
    throw new UsageError('--ttl is a whole number of seconds, 0 or more (default 86400, a day)');
  const redis = connectRedis(config.redisUrl);
  const keys = await openKeyStore(config, ns, 'nudge send push');
  try {
    const vapid = await keys.store.vapidKeys();
    if (vapid === undefined)
      throw new UsageError(
        `no VAPID keys in namespace ${ns.name}: run "nudge keys vapid --subject mailto:<address>" first (pages subscribe with its public key)`,
      );
    // Each push carries its signed tracking link, which the SDK's service worker reports to.
    const links = new UnsubscribeLinks(keys.store);
    const pusher = new WebPushSender({
      vapid,
      ...(ttlSeconds === undefined ? {} : { ttlSeconds }),
      trackUrl: (delivery) => links.trackUrl(config.publicUrl, { ...trackTarget(delivery), channel: 'push' }),
    });
    const nc = await connectNats(config.natsUrl, 'nudge send push');
    const publisher = new JetStreamPublisher(nc);
    const log = new LogAppender(publisher, ns, config.partitions);
    return {
      send: pushChannel({
        states: new RedisStateStore(redis, ns),
        partitions: config.partitions,
        pusher,
        removeSubscription: async (entry) => {
          await log.append([entry]);
        },
        now: Date.now,
        report: (line) => process.stdout.write(`sender: ${line}\n`),
      }),
      target: `the push services of the subscriptions, as ${vapid.subject}`,
      close: async () => {
        publisher.close();
        await nc.drain();
        await keys.close();
        await redis.quit();
      },
    };
  } catch (error) {
    await keys.close();
    await redis.quit();
    throw error;
  }
}

/** What a tracking token of a delivery stands for, but its channel (a delivery's is any string). */
const trackTarget = (delivery: Delivery) => ({
  decision_id: delivery.decision_id,
  message_id: delivery.message_id,
  user_id: delivery.user_id,
  // An open or a click is counted from when the send went out: a held send's deliver_at.
  at: sentAt(delivery),
});
