import type { JetStreamClient, JetStreamManager, JsMsg } from 'nats';
import type { Channel } from '../../core/message-schema.ts';
import type { Namespace } from '../../namespace.ts';
import type { Delivery } from '../../ports/delivery.ts';
import type { PositionedEntry } from '../../ports/audit-sink.ts';
import type { DeadLetter } from '../../ports/dead-letters.ts';
import { isInAppChannel } from '../../ports/inbox.ts';
import { decisionRow } from '../../ports/decision-row.ts';
import type { PositionedDecision } from '../../ports/decision-sink.ts';
import { parseJson } from '../../errors.ts';
import type { DurableReaderOptions } from './durable-reader.ts';
import { JetStreamDurableReader } from './durable-reader.ts';
import { decodeTrustedPack, decodeValue, rawLinesOf } from './packs.ts';

/** A subject's last token: the partition of a log subject, the channel of a delivery's. */
const lastToken = (subject: string) => subject.slice(subject.lastIndexOf('.') + 1);

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
        partition: Number(lastToken(message.subject)),
        seq: message.seq,
        position,
      }));
    },
    options,
  );
}

/**
 * The decisions stream's lines, through a durable consumer named `durable`: each a `decisions`
 * row in UTF-8 JSON, as the matcher wrote it (`JetStreamDecisionSink`), passed on unread for the
 * audit to store as it is. A line of a stream written before the lines were rows
 * (`{"decision":…,"partition":…}`) is made into its row here, so an upgrade loses nothing.
 */
export function decisionRowReader(
  js: JetStreamClient,
  jsm: JetStreamManager,
  ns: Namespace,
  durable: string,
  options: DurableReaderOptions = {},
) {
  return new JetStreamDurableReader<Uint8Array>(
    js,
    jsm,
    ns.decisionsStream,
    durable,
    (message: JsMsg) =>
      rawLinesOf(message.data).map((line) =>
        isPositionedDecisionLine(line)
          ? rowOfPositionedDecision(line, `${ns.decisionsStream} seq ${message.seq}`)
          : line,
      ),
    options,
  );
}

const POSITIONED_DECISION = new TextEncoder().encode('{"decision":');
const isPositionedDecisionLine = (line: Uint8Array) =>
  POSITIONED_DECISION.every((byte, i) => line[i] === byte);

function rowOfPositionedDecision(line: Uint8Array, where: string): Uint8Array {
  const { decision, partition, seq, caps_version } = parseJson(
    new TextDecoder().decode(line),
    () => where,
  ) as PositionedDecision;
  return new TextEncoder().encode(JSON.stringify(decisionRow(decision, { partition, seq }, caps_version)));
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

/**
 * The deliveries of one channel, or of the in-app channels (`'in-app'`, README "Show messages in
 * your app"), through a durable consumer named `durable`. nats-server 2.9 takes one filter subject,
 * so `'in-app'` reads every channel's subject and skips another channel's delivery by its subject,
 * unread, as most sends are.
 */
export function deliveryReader(
  js: JetStreamClient,
  jsm: JetStreamManager,
  ns: Namespace,
  channel: Channel | 'in-app',
  durable: string,
  options: DurableReaderOptions = {},
) {
  const inApp = channel === 'in-app';
  return new JetStreamDurableReader<Delivery>(
    js,
    jsm,
    ns.deliveriesStream,
    durable,
    (message: JsMsg) =>
      inApp && !isInAppChannel(lastToken(message.subject)) ? [] : [decodeValue(message.data) as Delivery],
    { ...options, filterSubject: inApp ? ns.deliverySubjects : ns.deliverySubject(channel) },
  );
}
