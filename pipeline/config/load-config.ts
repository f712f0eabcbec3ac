import { z } from 'zod';
import { formatIssues } from '../core/validation.ts';
import { InputError } from '../errors.ts';
import { Namespace, NAMESPACE_PATTERN } from '../namespace.ts';

const url = (protocols: readonly string[]) =>
  z
    .url({ error: `a URL such as ${protocols[0] ?? ''}//127.0.0.1` })
    // zod runs this check even after the URL check failed, so it must not assume a URL.
    .refine((text) => !URL.canParse(text) || protocols.includes(new URL(text).protocol), {
      error: `the scheme must be ${protocols.join(' or ')}`,
    });

/** Several URLs, separated by commas (a client tries each: the nodes of a cluster); a bad one is named. */
const urls = (protocols: readonly string[]) =>
  z
    .string()
    .transform((text) =>
      text
        .split(',')
        .map((part) => part.trim())
        .filter((part) => part !== ''),
    )
    .superRefine((parts, context) => {
      if (parts.length === 0) context.addIssue({ code: 'custom', message: 'at least one URL' });
      for (const part of parts) {
        const problem = !URL.canParse(part)
          ? `a URL such as ${protocols[0] ?? ''}//127.0.0.1`
          : protocols.includes(new URL(part).protocol)
            ? undefined
            : `the scheme must be ${protocols.join(' or ')}`;
        if (problem !== undefined)
          context.addIssue({ code: 'custom', message: parts.length === 1 ? problem : `${part}: ${problem}` });
      }
    })
    .transform((parts) => parts.join(','));

/** DESIGN §6: every setting, its default and the variable that overrides it. */
const ConfigSchema = z.object({
  NUDGE_NATS_URL: urls(['nats:', 'tls:']).default('nats://127.0.0.1:4222'),
  NUDGE_STREAM_REPLICAS: z.coerce
    .number({ error: 'a whole number of replicas, 1 to 5' })
    .int({ error: 'a whole number of replicas, 1 to 5' })
    .min(1, { error: 'a whole number of replicas, 1 to 5' })
    .max(5, { error: 'a whole number of replicas, 1 to 5' })
    .default(1),
  NUDGE_REDIS_URL: urls(['redis:', 'rediss:']).default('redis://127.0.0.1:6379'),
  NUDGE_CLICKHOUSE_URL: url(['http:', 'https:']).default('http://127.0.0.1:8123'),
  NUDGE_API_HOST: z.string().min(1).default('127.0.0.1'),
  NUDGE_API_PORT: z.coerce.number({ error: 'a port number' }).int().min(0).max(65_535).default(3000),
  NUDGE_API_RATE_PER_MINUTE: z.coerce
    .number({ error: 'a whole number of requests a minute' })
    .int({ error: 'a whole number of requests a minute' })
    .positive()
    .default(60_000),
  NUDGE_API_ANONYMOUS_RATE_PER_MINUTE: z.coerce
    .number({ error: 'a whole number of requests a minute' })
    .int({ error: 'a whole number of requests a minute' })
    .positive()
    .default(60),
  NUDGE_CLIENT_ORIGINS: z
    .string()
    .default('')
    .transform((text) =>
      text
        .split(',')
        .map((origin) => origin.trim())
        .filter((origin) => origin !== ''),
    )
    .pipe(
      z.array(
        z.string().refine((origin) => URL.canParse(origin) && new URL(origin).origin === origin, {
          error: 'origins such as https://app.example.com (scheme, host and port only), separated by commas',
        }),
      ),
    ),
  NUDGE_NAMESPACE: z
    .string()
    .regex(NAMESPACE_PATTERN, {
      error:
        'lowercase letters, digits and "_", starting with a letter, at most 40 (it names streams, keys and a database)',
    })
    .default('nudge'),
  NUDGE_PARTITIONS: z.coerce
    .number({ error: 'a whole number of log partitions' })
    .int({ error: 'a whole number of log partitions' })
    .min(1)
    .max(1024)
    .default(8),
  NUDGE_STATE_CACHE_USERS: z.coerce
    .number({ error: 'a whole number of users' })
    .int({ error: 'a whole number of users' })
    .min(0)
    .default(100_000),
  NUDGE_DATA_DIR: z.string().min(1).default('.data'),
  NUDGE_SMS_AUTH_TOKEN: z.string().optional(),
  NUDGE_PUBLIC_URL: z
    .string()
    .optional()
    .refine(
      (text) =>
        text === undefined ||
        text === '' ||
        (URL.canParse(text) &&
          ['http:', 'https:'].includes(new URL(text).protocol) &&
          new URL(text).search === '' &&
          new URL(text).hash === ''),
      {
        error:
          'the address people reach the API at, such as https://nudge.example.com (http or https, a path allowed, no query)',
      },
    ),
});

export type Config = {
  /** One NATS server's URL, or several separated by commas (the nodes of a cluster). */
  readonly natsUrl: string;
  /** Replicas of every stream and key-value bucket a namespace makes (1; 3 on a NATS cluster). */
  readonly streamReplicas: number;
  readonly redisUrl: string;
  readonly clickhouseUrl: string;
  readonly apiHost: string;
  readonly apiPort: number;
  /** Requests a minute per API key (a key may have its own), and per address without a valid key. */
  readonly apiRatePerMinute: number;
  readonly apiAnonymousRatePerMinute: number;
  /** The pages' origins the SDK may be used from (empty: any). */
  readonly clientOrigins: readonly string[];
  readonly namespace: string;
  /** Log partitions: fixed when the namespace's log stream is created (a user's partition never changes). */
  readonly partitions: number;
  /** User states a matcher keeps in memory in front of Redis (0: none). */
  readonly stateCacheUsers: number;
  /** Where `nudge services` keeps the data and logs of the services it starts. */
  readonly dataDir: string;
  /** The SMS provider's auth token for `nudge send sms`, kept out of the process list (a flag overrides it). */
  readonly smsAuthToken: string | undefined;
  /**
   * The API's address as people and mailbox providers reach it, without a trailing "/": the base of
   * the unsubscribe links in mails. Defaults to the API's own address.
   */
  readonly publicUrl: string;
};

/**
 * The configuration, from an injected environment (the composition roots pass `process.env`;
 * nothing else reads it). A bad value names the variable and what it accepts.
 */
export function loadConfig(env: Readonly<Record<string, string | undefined>>): Config {
  const result = ConfigSchema.safeParse(env);
  if (!result.success) throw new InputError('environment', formatIssues(result.error.issues));
  const c = result.data;
  return Object.freeze({
    natsUrl: c.NUDGE_NATS_URL,
    streamReplicas: c.NUDGE_STREAM_REPLICAS,
    redisUrl: c.NUDGE_REDIS_URL,
    clickhouseUrl: c.NUDGE_CLICKHOUSE_URL,
    apiHost: c.NUDGE_API_HOST,
    apiPort: c.NUDGE_API_PORT,
    apiRatePerMinute: c.NUDGE_API_RATE_PER_MINUTE,
    apiAnonymousRatePerMinute: c.NUDGE_API_ANONYMOUS_RATE_PER_MINUTE,
    clientOrigins: c.NUDGE_CLIENT_ORIGINS,
    namespace: c.NUDGE_NAMESPACE,
    partitions: c.NUDGE_PARTITIONS,
    stateCacheUsers: c.NUDGE_STATE_CACHE_USERS,
    dataDir: c.NUDGE_DATA_DIR,
    smsAuthToken: c.NUDGE_SMS_AUTH_TOKEN === '' ? undefined : c.NUDGE_SMS_AUTH_TOKEN,
    publicUrl:
      c.NUDGE_PUBLIC_URL === undefined || c.NUDGE_PUBLIC_URL === ''
        ? ownAddress(c.NUDGE_API_HOST, c.NUDGE_API_PORT)
        : c.NUDGE_PUBLIC_URL.replace(/\/+$/, ''),
  });
}

/**
 * `http://<host>:<port>` of the API, for links when no public address is set: a wildcard host
 * (listening on every interface) is reached as localhost, an IPv6 address in brackets.
 */
function ownAddress(host: string, port: number): string {
  const reachable =
    host === '0.0.0.0' || host === '::' ? 'localhost' : host.includes(':') ? `[${host}]` : host;
  return `http://${reachable}:${String(port)}`;
}

/** The namespace of a configuration: its names, and the replicas of the streams it makes. */
export const namespaceOf = (config: Config): Namespace =>
  new Namespace(config.namespace, { streamReplicas: config.streamReplicas });
