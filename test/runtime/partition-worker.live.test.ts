import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DecisionRow } from '../../pipeline/ports/decision-row.ts';
import { positionedDecisionOf } from '../../pipeline/ports/decision-row.ts';
import type { PositionedDecision } from '../../pipeline/ports/decision-sink.ts';
import { replayLine } from '../../pipeline/replay/replay-line.ts';
import { Replayer } from '../../pipeline/replay/replayer.ts';
import { linesByUser } from './lines-by-user.ts';
import { livePipeline, onboarding } from './live-pipeline.ts';

const PARTITIONS = 2;
let live: Awaited<ReturnType<typeof livePipeline>>;
beforeAll(async () => {
  live = await livePipeline(PARTITIONS);
});
afterAll(() => live.close());

async function decisionsInStream(): Promise<PositionedDecision[]> {
  const { jsm, ns } = live;
  const info = await jsm.streams.info(ns.decisionsStream);
  const found: PositionedDecision[] = [];
  for (let seq = info.state.first_seq; info.state.messages > 0 && seq <= info.state.last_seq; seq++) {
    const message = await jsm.streams.getMessage(ns.decisionsStream, { seq });
    for (const line of new TextDecoder().decode(message.data).split('\n'))
      found.push(positionedDecisionOf(JSON.parse(line) as DecisionRow));
  }
  return found;
}

describe('PartitionWorker on NATS JetStream and Redis', () => {
  it('decides an ingested log exactly as nudge replay does, per user in log order', async () => {
    const { entries, rules } = await onboarding();
    // Published one entry per message, so a batch is several log messages.
    await live.publish(entries, true);
    await live.decideAll(rules, 4);

    const replayer = new Replayer(rules.index, rules.caps);
    const expected = entries.flatMap((entry) => replayer.apply(entry).map(replayLine));
    const byId = new Map((await decisionsInStream()).map((d) => [d.decision.decision_id, d]));
    const got = [...byId.values()].sort((a, b) => a.seq - b.seq).map((d) => replayLine(d.decision));
    expect(got).toHaveLength(expected.length);
    expect(linesByUser(got)).toEqual(linesByUser(expected));
  });
});
