import type { JetStreamClient, JetStreamManager, JsMsg } from 'nats';
import type { Channel } from '../../core/message-schema.ts';
import type { Namespace } from '../../namespace.ts';
import type { Delivery } from '../../ports/delivery.ts';
import type { PositionedEntry } from '../../ports/audit-sink.ts';
import type { DeadLetter } from '../../ports/dead-letters.ts';
import { isInAppChannel } from '../../ports/inbox.ts';
import type { PositionedDecision } from '../../ports/decision-sink.ts';
import { parseJson } from '../../errors.ts';
import type { DurableReaderOptions } from './durable-reader.ts';
import { JetStreamDurableReader } from './durable-reader.ts';
import { decodeLines, decodeTrustedPack, decodeValue } from './packs.ts';

const partitionOfSubject = (subject: string) => Number(subject.slice(subject.lastIndexOf('.') + 1));

/**
 * The log's entries, with their positions, through a durable consumer named `durable`: for the
 * audit, which trusts the log's format (`decodeTrustedPack`).
 */
export function logEntryReader(
  js: JetStreamClient,
  jsm: JetStreamManager,
  ns: Namespace,
  durable: string,
  options: DurableReaderOptions = {},
) {
  return new JetStreamDurableReader<PositionedEntry>(
    js,
    jsm,
    ns.logStream,
    durable,
    (message: JsMsg) => {
      // Malformed lines are the matcher's to dead-letter (once, under its lease), not this reader's.
      return decodeTrustedPack(message.data).map((entry, position) => ({
        entry,
        partition: partitionOfSubject(message.subject),
        seq: message.seq,
        position,
      }));
    },
    options,
  );
}

/** The decisions stream's decisions, through a durable consumer named `durable`. */
export function decisionReader(
  js: JetStreamClient,
  jsm: JetStreamManager,
  ns: Namespace,
  durable: string,
  options: DurableReaderOptions = {},
) {
  return new JetStreamDurableReader<PositionedDecision>(
    js,
    jsm,
    ns.decisionsStream,
    durable,
    (message: JsMsg) =>
      decodeLines(
        message.data,
        `${ns.decisionsStream} seq ${message.seq}`,
        (line, where) => parseJson(line, where) as PositionedDecision,
      ),
    options,
  );
}

/** The dead letters, through a durable consumer named `durable`. */
export function deadLetterReader(
  js: JetStreamClient,
  jsm: JetStreamManager,
  ns: Namespace,
  durable: string,
  options: DurableReaderOptions = {},
) {
  return new JetStreamDurableReader<DeadLetter>(
    js,
    jsm,
    ns.deadLettersStream,
    durable,
    (message: JsMsg) => [decodeValue(message.data) as DeadLetter],
    options,
  );
}

/** The deliveries of one channel, through a durable consumer named `durable`. */
export function deliveryReader(
  js: JetStreamClient,
  jsm: JetStreamManager,
  ns: Namespace,
  channel: Channel,
  durable: string,
  options: DurableReaderOptions = {},
) {
  return new JetStreamDurableReader<Delivery>(
    js,
    jsm,
    ns.deliveriesStream,
    durable,
    (message: JsMsg) => [decodeValue(message.data) as Delivery],
    { ...options, filterSubject: ns.deliverySubject(channel) },
  );
}

/**
 * The in-app channels' deliveries (README "Show messages in your app"), through a durable consumer
 * named `durable` on every channel's subjects (nats-server 2.9 takes one filter subject): a
 * delivery of another channel is told by its subject and skipped unread, as most sends are.
 */
export function inAppDeliveryReader(
  js: JetStreamClient,
  jsm: JetStreamManager,
  ns: Namespace,
  durable: string,
  options: DurableReaderOptions = {},
) {
  return new JetStreamDurableReader<Delivery>(
    js,
    jsm,
    ns.deliveriesStream,
    durable,
    (message: JsMsg) =>
      isInAppChannel(message.subject.slice(message.subject.lastIndexOf('.') + 1))
        ? [decodeValue(message.data) as Delivery]
        : [],
    { ...options, filterSubject: ns.deliverySubjects },
  );
}
