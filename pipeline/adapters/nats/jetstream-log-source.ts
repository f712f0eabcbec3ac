import type { Consumer, JetStreamClient } from 'nats';
import { DeliverPolicy } from 'nats';
import type { Namespace } from '../../namespace.ts';
import type { LogMessage, LogSource } from '../../ports/log-source.ts';
import { decodePack } from './log-envelope.ts';

/**
 * A partition's log read with a JetStream ordered consumer from the owner's position: ordered
 * consumers deliver in sequence without gaps or redeliveries (the client resets them on a gap),
 * which an acked pull consumer does not promise (a redelivered message can come after later ones,
 * and would then be skipped as already applied). The position lives with the states in Redis, so
 * nothing is acked here.
 */
export class JetStreamLogSource implements LogSource {
  private readonly readers = new Map<number, { consumer: Consumer; position: number }>();

  constructor(
    private readonly js: JetStreamClient,
    private readonly ns: Namespace,
    /** How long a read waits for new messages (JetStream's minimum is 1 s). */
    private readonly waitMs = 1_000,
  ) {}

  async read(partition: number, after: number, max: number): Promise<readonly LogMessage[]> {
    let reader = this.readers.get(partition);
    if (reader?.position !== after) {
      const consumer = await this.js.consumers.get(this.ns.logStream, {
        // One subject as a string: nats-server 2.9 (the Debian package) has no `filter_subjects`.
        filterSubjects: this.ns.logSubject(partition),
        deliver_policy: DeliverPolicy.StartSequence,
        opt_start_seq: after + 1,
      });
      reader = { consumer, position: after };
      this.readers.set(partition, reader);
    }
    const messages: LogMessage[] = [];
    for await (const message of await reader.consumer.fetch({ max_messages: max, expires: this.waitMs })) {
      messages.push({
        seq: message.seq,
        entries: decodePack(message.data, `${this.ns.logStream} seq ${message.seq}`),
      });
    }
    const last = messages[messages.length - 1];
    if (last !== undefined) reader.position = last.seq;
    return messages;
  }
}
