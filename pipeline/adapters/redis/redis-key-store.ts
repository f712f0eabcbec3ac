import type { RedisClient } from './connect-redis.ts';
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

/**
 * API keys in one Redis hash, `<ns>:api_keys`, field = key id, value = the record as JSON; the
 * client secret in `<ns>:client_secret`; the VAPID keys in `<ns>:vapid`, one JSON value
 * (`{public_key, private_key, subject}`), so that one `SET NX` makes the whole pair at once; the
 * unsubscribe links' secret in `<ns>:unsubscribe_secret`.
 */
export class RedisKeyStore implements KeyStore, ClientSecrets, VapidKeyStore, UnsubscribeSecrets {
  private readonly key: string;
  private readonly secretKey: string;
  private readonly vapidKey: string;
  private readonly unsubscribeKey: string;

  constructor(
    private readonly redis: RedisClient,
    ns: Namespace,
  ) {
    this.key = `${ns.name}:api_keys`;
    this.secretKey = `${ns.name}:client_secret`;
    this.vapidKey = `${ns.name}:vapid`;
    this.unsubscribeKey = `${ns.name}:unsubscribe_secret`;
  }

  async unsubscribeSecret(): Promise<string | undefined> {
    return (await this.redis.get(this.unsubscribeKey)) ?? undefined;
  }

  async ensureUnsubscribeSecret(candidate: string): Promise<string> {
    await this.redis.set(this.unsubscribeKey, candidate, 'NX');
    return (await this.unsubscribeSecret()) ?? candidate;
  }

  async vapidKeys(): Promise<VapidKeys | undefined> {
    const json = await this.redis.get(this.vapidKey);
    return json === null ? undefined : VapidKeysSchema.parse(JSON.parse(json));
  }

  async ensureVapidKeys(candidate: VapidKeys): Promise<VapidKeys> {
    await this.redis.set(this.vapidKey, JSON.stringify(candidate), 'NX');
    return (await this.vapidKeys()) ?? candidate;
  }

  async setVapidKeys(keys: VapidKeys): Promise<void> {
    await this.redis.set(this.vapidKey, JSON.stringify(keys));
  }

  async clientSecret(): Promise<string | undefined> {
    return (await this.redis.get(this.secretKey)) ?? undefined;
  }

  async ensureClientSecret(candidate: string): Promise<string> {
    await this.redis.set(this.secretKey, candidate, 'NX');
    return (await this.clientSecret()) ?? candidate;
  }

  async setClientSecret(secret: string): Promise<void> {
    await this.redis.set(this.secretKey, secret);
  }

  async put(record: ApiKeyRecord): Promise<void> {
    await this.redis.hset(this.key, record.id, JSON.stringify(record));
  }

  async get(id: string): Promise<ApiKeyRecord | undefined> {
    const json = await this.redis.hget(this.key, id);
    return json === null ? undefined : ApiKeyRecordSchema.parse(JSON.parse(json));
  }

  async list(): Promise<ApiKeyRecord[]> {
    const all = await this.redis.hgetall(this.key);
    return Object.values(all)
      .map((json) => ApiKeyRecordSchema.parse(JSON.parse(json)))
      .sort((a, b) => a.created_at - b.created_at);
  }
}
