import { connectNats } from '../pipeline/adapters/nats/connect-nats.ts';
import { JetStreamKeyStore } from '../pipeline/adapters/nats/jetstream-key-store.ts';
import { connectRedis } from '../pipeline/adapters/redis/connect-redis.ts';
import { RedisKeyStore } from '../pipeline/adapters/redis/redis-key-store.ts';
import type { Config } from '../pipeline/config/load-config.ts';
import type { Namespace } from '../pipeline/namespace.ts';

/** The deployment's keys, opened by a command, with what it must close. */
export type OpenKeyStore = { readonly store: JetStreamKeyStore; readonly close: () => Promise<void> };

/**
 * The durable key store (`JetStreamKeyStore`) on connections of its own, with the Redis keys of
 * a deployment from before it as its legacy source: for commands that hold no connections yet.
 */
export async function openKeyStore(config: Config, ns: Namespace, client: string): Promise<OpenKeyStore> {
  const nc = await connectNats(config.natsUrl, client);
  const redis = connectRedis(config.redisUrl);
  return {
    store: new JetStreamKeyStore(nc.jetstream(), ns, new RedisKeyStore(redis, ns)),
    close: async () => {
      await nc.drain();
      await redis.quit();
    },
  };
}
