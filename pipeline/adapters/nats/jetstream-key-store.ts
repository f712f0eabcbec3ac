import type { JetStreamClient, KV } from 'nats';
import { NatsError } from 'nats';
import type { Namespace } from '../../namespace.ts';
import type {
  ApiKeyRecord,
  ClientSecrets,
  KeyStore,
  UnsubscribeSecrets,
  VapidKeys,
  VapidKeyStore,
} from '../../ports/key-store.ts';
import { ApiKeyRecordSchema, VapidKeysSchema } from '../../ports/key-store.ts';
import { bucketOnDemand } from './kv-bucket.ts';

/** What the keys were kept in before they were durable (`RedisKeyStore`): read once, copied over. */
export type LegacyKeys = KeyStore & ClientSecrets & VapidKeyStore & UnsubscribeSecrets;

const API_KEY_PREFIX = 'api_key.';
const CLIENT_SECRET = 'client_secret';
const VAPID = 'vapid';
const UNSUBSCRIBE_SECRET = 'unsubscribe_secret';
/** An API key's id as `newApiKey` makes it, and as a KV key allows it. */
const KEY_ID = /^[A-Za-z0-9_-]{1,64}$/;
/** JetStream's API error code for "wrong last sequence": `create` found the key there already. */
const WRONG_LAST_SEQUENCE = 10071;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * The deployment's keys in a JetStream key-value bucket (`KV_<NS>_KEYS`, issue #21): API keys as
 * `api_key.<id>` (the record as JSON, hashed: the secret is never stored), `client_secret`,
 * `unsubscribe_secret` and `vapid` (the pair as one JSON value). They were in Redis, where a wipe or a
 * failed-over master lost them, and with them every client's access, every unsubscribe link sent
 * and every push subscription; here they have the streams' replicas and their disk.
 *
 * "Made only when there is none" is `kv.create`, which JetStream refuses when the key holds a value,
 * so concurrent first starts agree as they did with `SET NX`. A deployment upgraded from the Redis
 * keys (`legacy`) has each key copied over the first time it is read and found missing here: a key
 * made, revoked or rotated after the upgrade is only here.
 */
export class JetStreamKeyStore implements KeyStore, ClientSecrets, VapidKeyStore, UnsubscribeSecrets {
  /** One value a key: a rotated secret's old value is the stream's to forget. */
  private readonly kv: () => Promise<KV>;

  constructor(
    js: JetStreamClient,
    ns: Namespace,
    private readonly legacy?: LegacyKeys,
  ) {
    this.kv = bucketOnDemand(js, ns.keysBucket, ns.streamReplicas);
  }

  async put(record: ApiKeyRecord): Promise<void> {
    await (await this.kv()).put(apiKey(record.id), encoder.encode(JSON.stringify(record)));
  }

  async get(id: string): Promise<ApiKeyRecord | undefined> {
    if (!KEY_ID.test(id)) return undefined;
    const record = await this.value(apiKey(id), parseRecord);
    if (record !== undefined || this.legacy === undefined) return record;
    const old = await this.legacy.get(id);
    return old === undefined ? undefined : this.adopt(apiKey(id), old, parseRecord);
  }

  async list(): Promise<ApiKeyRecord[]> {
    const kv = await this.kv();
    const records = new Map<string, ApiKeyRecord>();
    // The names first, then the values: a read awaited inside nats.js's key iterator ends it early.
    const names: string[] = [];
    for await (const name of await kv.keys(`${API_KEY_PREFIX}>`)) names.push(name);
    for (const name of names) {
      const record = await this.value(name, parseRecord);
      if (record !== undefined) records.set(record.id, record);
    }
    for (const old of (await this.legacy?.list()) ?? [])
      if (!records.has(old.id)) records.set(old.id, await this.adopt(apiKey(old.id), old, parseRecord));
    return [...records.values()].sort((a, b) => a.created_at - b.created_at);
  }

  clientSecret(): Promise<string | undefined> {
    return this.secret(CLIENT_SECRET, () => this.legacy?.clientSecret());
  }

  async ensureClientSecret(candidate: string): Promise<string> {
    return (await this.clientSecret()) ?? this.adopt(CLIENT_SECRET, candidate, String);
  }

  async setClientSecret(secret: string): Promise<void> {
    await (await this.kv()).put(CLIENT_SECRET, encoder.encode(secret));
  }

  unsubscribeSecret(): Promise<string | undefined> {
    return this.secret(UNSUBSCRIBE_SECRET, () => this.legacy?.unsubscribeSecret());
  }

  async ensureUnsubscribeSecret(candidate: string): Promise<string> {
    return (await this.unsubscribeSecret()) ?? this.adopt(UNSUBSCRIBE_SECRET, candidate, String);
  }

  async vapidKeys(): Promise<VapidKeys | undefined> {
    const keys = await this.value(VAPID, parseVapid);
    if (keys !== undefined || this.legacy === undefined) return keys;
    const old = await this.legacy.vapidKeys();
    return old === undefined ? undefined : this.adopt(VAPID, old, parseVapid);
  }

  async ensureVapidKeys(candidate: VapidKeys): Promise<VapidKeys> {
    return (await this.vapidKeys()) ?? this.adopt(VAPID, candidate, parseVapid);
  }

  async setVapidKeys(keys: VapidKeys): Promise<void> {
    await (await this.kv()).put(VAPID, encoder.encode(JSON.stringify(keys)));
  }

  private async secret(
    key: string,
    old: () => Promise<string | undefined> | undefined,
  ): Promise<string | undefined> {
    const secret = await this.value(key, String);
    if (secret !== undefined) return secret;
    const before = await old();
    return before === undefined ? undefined : this.adopt(key, before, String);
  }

  /** The value of `key`, read with `parse`; undefined when there is none (never set, or deleted). */
  private async value<T>(key: string, parse: (text: string) => T): Promise<T | undefined> {
    const entry = await (await this.kv()).get(key);
    if (entry === null || entry.operation !== 'PUT' || entry.length === 0) return undefined;
    return parse(decoder.decode(entry.value));
  }

  /**
   * Stores `candidate` at `key` unless a value is there already, and returns the one that stays: a
   * concurrent first start, or a copy from the legacy store, loses to what was there first.
   */
  private async adopt<T>(key: string, candidate: T, parse: (text: string) => T): Promise<T> {
    const text = typeof candidate === 'string' ? candidate : JSON.stringify(candidate);
    try {
      await (await this.kv()).create(key, encoder.encode(text));
      return candidate;
    } catch (error) {
      if (!(error instanceof NatsError && error.api_error?.err_code === WRONG_LAST_SEQUENCE)) throw error;
      const there = await this.value(key, parse);
      if (there === undefined)
        throw new Error(`${key}: refused as present, then found absent`, { cause: error });
      return there;
    }
  }
}

const apiKey = (id: string) => {
  if (!KEY_ID.test(id))
    throw new Error(`an API key id is letters, digits, "-" or "_": ${JSON.stringify(id)}`);
  return `${API_KEY_PREFIX}${id}`;
};
const parseRecord = (text: string): ApiKeyRecord => ApiKeyRecordSchema.parse(JSON.parse(text));
const parseVapid = (text: string): VapidKeys => VapidKeysSchema.parse(JSON.parse(text));
