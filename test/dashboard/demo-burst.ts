import { ClickHouseAuditSink } from '../../pipeline/adapters/clickhouse/clickhouse-audit-sink.ts';
import { compileCaps } from '../../pipeline/core/caps.ts';
import type { LogEntry } from '../../pipeline/core/log-entry.ts';
import type { Message } from '../../pipeline/core/message-schema.ts';
import { buildRuleIndex } from '../../pipeline/core/rule-index.ts';
import { Replayer } from '../../pipeline/replay/replayer.ts';
import type { apiFixture } from '../api/api-fixture.ts';

const MINUTE = 60_000;

/**
 * What the quick-start demo leaves behind: about two hours of decisions (13:02 to 15:10 UTC of
 * `day`) for 20 users of their own, decided by the same messages and caps as the recorded traffic,
 * and nothing else that week. Only decisions are written (the replays read the log of the recorded
 * days, not this one). Returns the first and last decision times.
 */
export async function recordDemoBurst(
  api: Awaited<ReturnType<typeof apiFixture>>,
  messages: readonly Message[],
  day: number,
): Promise<{ first: number; last: number }> {
  const start = day + 13 * 60 * MINUTE + 2 * MINUTE;
  const span = 128 * MINUTE;
  const count = 640;
  let seed = 11;
  const random = () => {
    seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
    return seed / 2 ** 31;
  };
  const entries: LogEntry[] = [];
  for (let i = 0; i < count; i++) {
    const user_id = `demo${Math.floor(random() * 20)}`;
    const received_at = start + Math.floor((i / count) * span);
    if (i < 20)
      entries.push({
        type: 'identify',
        id: `demo-i${i}`,
        user_id: `demo${i}`,
        received_at,
        attributes: { plan: i % 2 === 0 ? 'pro' : 'free' },
      });
    else
      entries.push({
        type: 'track',
        id: `demo-e${i}`,
        name: random() < 0.35 ? 'purchase' : 'upload',
        user_id,
        received_at,
        metadata: { size: Math.floor(random() * 10) },
      });
  }
  const replayer = new Replayer(buildRuleIndex(messages), compileCaps([{ max: 2, per: 86_400_000 }]));
  // A partition of their own (9), so no (partition, sequence) of the recorded traffic is reused.
  const decisions = entries.flatMap((entry, i) =>
    replayer.apply(entry).map((decision) => ({ decision, partition: 9, seq: i + 1 })),
  );
  await new ClickHouseAuditSink(api.clickhouse, api.ns.database).insertDecisions(decisions);
  const times = decisions.map((d) => d.decision.at);
  return { first: Math.min(...times), last: Math.max(...times) };
}
