import type { JetStreamClient, JetStreamManager } from 'nats';
import { RetentionPolicy, StorageType, nanos } from 'nats';
import type { Namespace } from '../../namespace.ts';
import type { DeadLetter, DeadLetterSink } from '../../ports/dead-letters.ts';
import { DUPLICATE_WINDOW_MS } from './log-stream.ts';
import { encodeValue } from './packs.ts';
import { ensureStream } from './stream-info.ts';

/** The dead-letter stream of a namespace, kept without limits: dead letters are few, and each is a problem someone must look at. */
export async function ensureDeadLettersStream(jsm: JetStreamManager, ns: Namespace): Promise<void> {
  await ensureStream(jsm, ns, {
    name: ns.deadLettersStream,
    subjects: [`${ns.name}.dead_letters.*`],
    storage: StorageType.File,
    retention: RetentionPolicy.Limits,
    duplicate_window: nanos(DUPLICATE_WINDOW_MS),
  });
}

/** Dead letters to JetStream, one message each (they are rare), deduplicated by their place in the log. */
export class JetStreamDeadLetters implements DeadLetterSink {
  constructor(
    private readonly js: JetStreamClient,
    private readonly ns: Namespace,
  ) {}

  async publish(letters: readonly DeadLetter[]): Promise<void> {
    await Promise.all(
      letters.map((letter) =>
        this.js.publish(this.ns.deadLettersSubject(letter.partition), encodeValue(letter), {
          msgID: deadLetterId(letter),
        }),
      ),
    );
  }
}

export const deadLetterId = (letter: DeadLetter): string =>
  `dead:${letter.partition}:${letter.seq}:${letter.kind}:${letter.index}`;
