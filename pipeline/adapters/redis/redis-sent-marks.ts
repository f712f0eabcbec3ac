import type { RedisClient } from './connect-redis.ts';
import type { Channel } from '../../core/message-schema.ts';
import type { Namespace } from '../../namespace.ts';
import type { SentMarks } from '../../ports/sent-marks.ts';

/**
 * An hour: a delivery whose sender died before its ack comes back after the consumer's ack wait
 * (15 s) once a sender runs, so an hour covers a restart or a deploy. Marks cost about 120 bytes
 * each, so Redis holds the last hour of mails: 4 MB at 10 mails/s.
 */
const KEEP_MS = 3_600_000;

/** `SentMarks` as one Redis string a delivery, `<ns>:sent:<channel>:<decision id>` = the status, expiring. */
export class RedisSentMarks implements SentMarks {
  constructor(
    private readonly redis: RedisClient,
    private readonly ns: Namespace,
    private readonly channel: Channel,
    private readonly keepMs = KEEP_MS,
  ) {}

  async accepted(decisionId: string): Promise<number | undefined> {
    const status = await this.redis.get(this.ns.sentMarkKey(this.channel, decisionId));
    return status === null ? undefined : Number(status);
  }

  async mark(decisionId: string, status: number): Promise<void> {
    await this.redis.set(this.ns.sentMarkKey(this.channel, decisionId), String(status), 'PX', this.keepMs);
  }
}
