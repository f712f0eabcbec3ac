import { createHash } from 'node:crypto';
import type { Channel } from './core/message-schema.ts';

/**
 * Every name the pipeline gives a resource, derived from `NUDGE_NAMESPACE` (DESIGN §6) so that
 * environments and test runs (`t_<uuid>`) never collide: JetStream streams and subjects, Redis
 * keys, the ClickHouse database. One place, so that no adapter invents a name of its own.
 */
/** Lowercase letters, digits and `_`, starting with a letter: valid in every name derived from it. */
export const NAMESPACE_PATTERN = /^[a-z][a-z0-9_]{0,39}$/;

export class Namespace {
  /**
   * How many copies JetStream keeps of each stream and key-value bucket made for the namespace
   * (`NUDGE_STREAM_REPLICAS`): 1 on one server, 3 on a cluster. Set when a stream is made.
   */
  readonly streamReplicas: number;

  constructor(
    readonly name: string,
    options: { readonly streamReplicas?: number } = {},
  ) {
    if (!NAMESPACE_PATTERN.test(name)) throw new Error(`invalid namespace ${JSON.stringify(name)}`);
    this.streamReplicas = options.streamReplicas ?? 1;
  }

  /** The ClickHouse database. */
  get database(): string {
    return this.name;
  }

  /** JetStream stream names allow no dots: `<NS>_LOG`. */
  get logStream(): string {
    return `${this.name.toUpperCase()}_LOG`;
  }

  /** `<ns>.log.<partition>`: producers publish each entry to its user's partition. */
  logSubject(partition: number): string {
    return `${this.name}.log.${partition}`;
  }

  get logSubjects(): string {
    return `${this.name}.log.*`;
  }

  get decisionsStream(): string {
    return `${this.name.toUpperCase()}_DECISIONS`;
  }

  decisionsSubject(partition: number): string {
    return `${this.name}.decisions.${partition}`;
  }

  /** The JetStream key-value bucket of each partition's committed position (`KV_<NS>_CHECKPOINTS`). */
  get checkpointsBucket(): string {
    return `${this.name.toUpperCase()}_CHECKPOINTS`;
  }

  /** The stream behind the checkpoints bucket. */
  get checkpointsStream(): string {
    return `KV_${this.checkpointsBucket}`;
  }

  /**
   * The JetStream key-value bucket of the deployment's keys (`KV_<NS>_KEYS`): API keys, the client
   * and unsubscribe secrets, the VAPID pair. Replicated with the streams, so no single loss (of
   * Redis, or of a NATS node at R3) takes them.
   */
  get keysBucket(): string {
    return `${this.name.toUpperCase()}_KEYS`;
  }

  /** Every JetStream stream the pipeline makes for the namespace (to remove one). */
  get streams(): string[] {
    return [
      this.logStream,
      this.decisionsStream,
      this.deliveriesStream,
      this.heldStream,
      this.deadLettersStream,
      this.checkpointsStream,
      this.catalogStream,
      `KV_${this.keysBucket}`,
    ];
  }

  /** `<NS>_CATALOG`: every version of every message and of the caps. */
  get catalogStream(): string {
    return `${this.name.toUpperCase()}_CATALOG`;
  }

  /** `<NS>_DEAD_LETTERS`, subjects `<ns>.dead_letters.<partition>`: what the matcher could not decide. */
  get deadLettersStream(): string {
    return `${this.name.toUpperCase()}_DEAD_LETTERS`;
  }

  deadLettersSubject(partition: number): string {
    return `${this.name}.dead_letters.${partition}`;
  }

  get deliveriesStream(): string {
    return `${this.name.toUpperCase()}_DELIVERIES`;
  }

  /** `<ns>.deliveries.<channel>`: what channel senders consume. */
  deliverySubject(channel: Channel): string {
    return `${this.name}.deliveries.${channel}`;
  }

  /** `<ns>.deliveries.*`: every channel's deliveries. */
  get deliverySubjects(): string {
    return `${this.name}.deliveries.*`;
  }

  /** `<NS>_HELD`: sends held until their `deliver_at`, each removed once released or cancelled. */
  get heldStream(): string {
    return `${this.name.toUpperCase()}_HELD`;
  }

  /** `<ns>.held.<channel>`: a held send, until the releaser puts it on its delivery subject. */
  heldSubject(channel: Channel): string {
    return `${this.name}.held.${channel}`;
  }

  get heldSubjects(): string {
    return `${this.name}.held.*`;
  }

  /** `<ns>.inapp`, a core NATS subject (no stream): every in-app send, for the API processes. */
  get inAppSubject(): string {
    return `${this.name}.inapp`;
  }

  /**
   * A Redis key of one partition: `<ns>:{p<partition>}:<part>:…`. The braces are a hash tag, so
   * every key of a partition lands in one Redis Cluster slot and one script can touch them all.
   */
  redisKey(partition: number, ...parts: readonly string[]): string {
    return [`${this.name}:{p${partition}}`, ...parts].join(':');
  }

  /**
   * The mark of a delivery its provider accepted (`RedisSentMarks`): `<ns>:sent:<channel>:<decision
   * id>`, a key of its own, so no hash tag.
   */
  sentMarkKey(channel: Channel, decisionId: string): string {
    return `${this.name}:sent:${channel}:${decisionId}`;
  }

  /**
   * A key of one user's inbox: `<ns>:inbox:{<tag>}:<part>:<user id>`. The tag (16 hex digits of
   * the user id's SHA-1) puts a user's keys in one Redis Cluster slot, which a user id could not
   * do itself (it may hold braces); the id at the end keeps two users' keys apart whatever their tags.
   */
  inboxKey(userId: string, part: string): string {
    const tag = createHash('sha1').update(userId).digest('hex').slice(0, 16);
    return `${this.name}:inbox:{${tag}}:${part}:${userId}`;
  }
}
