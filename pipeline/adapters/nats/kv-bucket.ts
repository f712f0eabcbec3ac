import type { JetStreamClient, KV } from 'nats';
import { StorageType } from 'nats';

/**
 * A JetStream key-value bucket that keeps one value a key, on disk, with `replicas` copies: made
 * if missing and opened on the first call, the same bucket after that, and tried again on the
 * next call after a failed open (NATS down at start).
 */
export function bucketOnDemand(js: JetStreamClient, name: string, replicas: number): () => Promise<KV> {
  let bucket: Promise<KV> | undefined;
  return () => {
    bucket ??= js.views
      .kv(name, { history: 1, storage: StorageType.File, replicas })
      .catch((error: unknown) => {
        bucket = undefined;
        throw error;
      });
    return bucket;
  };
}
