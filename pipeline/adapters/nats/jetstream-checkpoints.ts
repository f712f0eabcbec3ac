import type { JetStreamClient, KV } from 'nats';
import type { Namespace } from '../../namespace.ts';
import type { Checkpoints } from '../../ports/checkpoints.ts';
import type { StreamPublisher } from './jetstream-publisher.ts';
import { bucketOnDemand } from './kv-bucket.ts';

const codec = {
  encode: (n: number) => new TextEncoder().encode(String(n)),
  decode: (b: Uint8Array) => Number(new TextDecoder().decode(b)),
};

/**
 * Checkpoints in a JetStream key-value bucket (key `p<partition>`, one value kept): on the same
 * server as the log and the decisions, and lost only with them, never with Redis. A save is a
 * publish to the key's subject, as `kv.put` makes it, through the matcher's lean publisher (a
 * save a batch: nats.js's request costs a subscription, a timer and an error object each).
 */
export class JetStreamCheckpoints implements Checkpoints {
  private readonly kv: () => Promise<KV>;

  constructor(
    js: JetStreamClient,
    private readonly ns: Namespace,
    private readonly publisher: StreamPublisher,
  ) {
    this.kv = bucketOnDemand(js, ns.checkpointsBucket, ns.streamReplicas);
  }

  async save(partition: number, applied: number): Promise<void> {
    await this.kv();
    await this.publisher.publish(`$KV.${this.ns.checkpointsBucket}.p${partition}`, codec.encode(applied));
  }

  async load(partition: number): Promise<number> {
    const entry = await (await this.kv()).get(`p${partition}`);
    return entry === null || entry.length === 0 ? 0 : codec.decode(entry.value);
  }
}
