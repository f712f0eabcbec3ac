import type { JetStreamManager } from 'nats';
import { nanos, RetentionPolicy, StorageType } from 'nats';
import type { Namespace } from '../../namespace.ts';
import { decisionRow } from '../../ports/decision-row.ts';
import type { DecisionSink, PositionedDecision } from '../../ports/decision-sink.ts';
import type { StreamPublisher } from './jetstream-publisher.ts';
import { DUPLICATE_WINDOW_MS } from './log-stream.ts';
import type { Line } from './packs.ts';
import { cutPacks, encodeLines, lineOf, packId } from './packs.ts';
import { ensureStream } from './stream-info.ts';

/** The decisions stream of a namespace: `<ns>.decisions.<partition>`, kept 7 days by default, for the audit writers and senders. */
export async function ensureDecisionsStream(
  jsm: JetStreamManager,
  ns: Namespace,
  retentionDays = 7,
): Promise<void> {
  await ensureStream(jsm, ns, {
    name: ns.decisionsStream,
    subjects: [`${ns.name}.decisions.*`],
    storage: StorageType.File,
    retention: RetentionPolicy.Limits,
    max_age: nanos(retentionDays * 86_400_000),
    duplicate_window: nanos(DUPLICATE_WINDOW_MS),
  });
}

/**
 * Decisions to JetStream, packed as NDJSON on the subject of their partition (a batch's decisions
 * all come from one partition's worker), a line each: its audit row (`decisionRow`, with the
 * partition, the sequence and the caps version), which the audit stores as it is.
 * A pack's `Nats-Msg-Id` is a digest of its decision ids, so a batch published again after a
 * crash, cut the same way, is dropped by the duplicate window; cut another way, its decisions
 * reach the stream twice with the same ids, and the audit tables (ReplacingMergeTree on
 * `decision_id`) and the delivery stream (`Nats-Msg-Id` = decision id) keep them once.
 */
export class JetStreamDecisionSink implements DecisionSink {
  constructor(
    private readonly publisher: StreamPublisher,
    private readonly ns: Namespace,
  ) {}

  async publish(decisions: readonly PositionedDecision[]): Promise<void> {
    const acks: Promise<unknown>[] = [];
    const lines = decisions.map((d): { decision: PositionedDecision; line: Line } => ({
      decision: d,
      line: lineOf(decisionRow(d.decision, d, d.caps_version)),
    }));
    for (const pack of cutPacks(lines, (item) => item.line.bytes)) {
      const partition = pack[0]?.decision.partition ?? 0;
      const body = encodeLines(pack.map((item) => item.line));
      const msgID = packId(
        'decisions',
        pack.map((item) => item.decision.decision.decision_id),
      );
      acks.push(this.publisher.publish(this.ns.decisionsSubject(partition), body, msgID));
    }
    await Promise.all(acks);
  }
}
