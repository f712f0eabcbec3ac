import type { JetStreamClient, KV } from 'nats';
import { StorageType } from 'nats';
import type { Namespace } from '../../namespace.ts';
import type { Checkpoints } from '../../ports/checkpoints.ts';

const codec = {
  encode: (n: number) => new TextEncoder().encode(String(n)),
  decode: (b: Uint8Array) => Number(new TextDecoder().decode(b)),
};

/**
 * Checkpoints in a JetStream key-value bucket (key `p<partition>`, one value kept): on the same
 * server as the log and the decisions, and lost only with them, never with Redis.
 */
export class JetStreamCheckpoints implements Checkpoints {
  private bucket: Promise<KV> | undefined;

  constructor(
    private readonly js: JetStreamClient,
    private readonly ns: Namespace,
  ) {}

  async save(partition: number, applied: number): Promise<void> {
    await (await this.kv()).put(`p${partition}`, codec.encode(applied));
  }

  async load(partition: number): Promise<number> {
    const entry = await (await this.kv()).get(`p${partition}`);
    return entry === null || entry.length === 0 ? 0 : codec.decode(entry.value);
  }

  private kv(): Promise<KV> {
    this.bucket ??= this.js.views
      .kv(this.ns.checkpointsBucket, { history: 1, storage: StorageType.File })
      .catch((error: unknown) => {
        this.bucket = undefined;
        throw error;
      });
    return this.bucket;
  }
}
