import { createHash } from 'node:crypto';
import type { JetStreamClient, JetStreamManager } from 'nats';
import { nanos, RetentionPolicy, StorageType } from 'nats';
import type { Namespace } from '../../namespace.ts';
import type { DecisionSink, PositionedDecision } from '../../ports/decision-sink.ts';
import { DUPLICATE_WINDOW_MS, PACK_SIZE } from './log-stream.ts';
import { ensureStream } from './stream-info.ts';

const encoder = new TextEncoder();

/** The decisions stream of a namespace: `<ns>.decisions.<partition>`, kept 7 days by default, for the audit writers and senders. */
export async function ensureDecisionsStream(
  jsm: JetStreamManager,
  ns: Namespace,
  retentionDays = 7,
): Promise<void> {
  await ensureStream(jsm, {
    name: ns.decisionsStream,
    subjects: [`${ns.name}.decisions.*`],
    storage: StorageType.File,
    retention: RetentionPolicy.Limits,
    max_age: nanos(retentionDays * 86_400_000),
    duplicate_window: nanos(DUPLICATE_WINDOW_MS),
  });
}

/**
 * Decisions to JetStream, packed as NDJSON (`{decision, partition, seq}` per line) on the subject
 * of their partition (a batch's decisions all come from one partition's worker).
 * A pack's `Nats-Msg-Id` is a digest of its decision ids, so a batch published again after a
 * crash, cut the same way, is dropped by the duplicate window; cut another way, its decisions
 * reach the stream twice with the same ids, and the audit tables (ReplacingMergeTree on
 * `decision_id`) and the delivery stream (`Nats-Msg-Id` = decision id) keep them once.
 */
export class JetStreamDecisionSink implements DecisionSink {
  constructor(
    private readonly js: JetStreamClient,
    private readonly ns: Namespace,
  ) {}

  async publish(decisions: readonly PositionedDecision[]): Promise<void> {
    const acks: Promise<unknown>[] = [];
    for (let i = 0; i < decisions.length; i += PACK_SIZE) {
      const pack = decisions.slice(i, i + PACK_SIZE);
      const partition = pack[0]?.partition ?? 0;
      const body = encoder.encode(pack.map((d) => JSON.stringify(d)).join('\n'));
      const msgID = `decisions:${createHash('sha256')
        .update(pack.map((d) => d.decision.decision_id).join('\n'))
        .digest('base64url')}`;
      acks.push(this.js.publish(this.ns.decisionsSubject(partition), body, { msgID }));
    }
    await Promise.all(acks);
  }
}
