import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrateAudit } from '../../../pipeline/adapters/clickhouse/audit-schema.ts';
import { ClickHouseAuditReader } from '../../../pipeline/adapters/clickhouse/clickhouse-audit-reader.ts';
import { ClickHouseAuditSink } from '../../../pipeline/adapters/clickhouse/clickhouse-audit-sink.ts';
import { ClickHouseRecordedLog } from '../../../pipeline/adapters/clickhouse/recorded-log.ts';
import { ClickHouseReplayStore } from '../../../pipeline/adapters/clickhouse/replay-store.ts';
import { compileCaps } from '../../../pipeline/core/caps.ts';
import { decide } from '../../../pipeline/core/decide.ts';
import type { Decision } from '../../../pipeline/core/decision.ts';
import type { TrackEntry } from '../../../pipeline/core/log-entry.ts';
import { GlobalCapListSchema, MessageSchema } from '../../../pipeline/core/message-schema.ts';
import { buildRuleIndex } from '../../../pipeline/core/rule-index.ts';
import type { UserState } from '../../../pipeline/core/user-state.ts';
import type { PositionedDecision } from '../../../pipeline/ports/decision-sink.ts';
import { statesFromHistories } from '../../../pipeline/replay/window-replay.ts';
import { testClickHouse } from './clickhouse-test-db.ts';

const { client, database, drop } = testClickHouse();
afterAll(drop);

const at = (iso: string) => Date.parse(iso);
const MINUTE = 60_000;

// "Your upload is ready" waits for 09:00 (UTC) when it comes at night; the weekly tip goes at once.
const index = buildRuleIndex([
  MessageSchema.parse({
    id: 'upload-ready',
    channel: 'webhook',
    state: 'live',
    trigger: { event: 'upload_completed' },
    schedule: { from: '09:00', to: '18:00', outside: 'defer' },
    template: { body: 'Your upload is ready' },
  }),
  MessageSchema.parse({
    id: 'weekly-tip',
    channel: 'webhook',
    state: 'live',
    trigger: { event: 'tip_requested' },
    template: { body: 'A tip' },
  }),
]);
const caps = compileCaps(GlobalCapListSchema.parse([{ max: 5, per: '1d', channel: 'webhook' }]));

const entries: TrackEntry[] = [
  {
    type: 'track',
    id: 'e1',
    name: 'upload_completed',
    user_id: 'u1',
    received_at: at('2026-12-07T23:00:00Z'),
  },
  { type: 'track', id: 'e2', name: 'tip_requested', user_id: 'u1', received_at: at('2026-12-07T23:30:00Z') },
];

/** The entries decided in order (one per log message: seq 1, 2), as the matcher would, and the state after. */
function decided(): { decisions: PositionedDecision[]; state: UserState | undefined } {
  let state: UserState | undefined;
  const decisions: PositionedDecision[] = [];
  entries.forEach((entry, i) => {
    const result = decide(state, entry, index, caps);
    state = result.state;
    for (const decision of result.decisions) decisions.push({ decision, partition: 0, seq: i + 1 });
  });
  return { decisions, state };
}

const deliverAt = (d: Decision) => (d.outcome === 'sent' ? (d.deliver_at ?? null) : null);

describe('held sends in the audit (ClickHouse)', () => {
  const { decisions, state } = decided();

  beforeAll(async () => {
    await migrateAudit(client, database);
    const sink = new ClickHouseAuditSink(client, database);
    await sink.insertEntries(entries.map((entry, i) => ({ entry, partition: 0, seq: i + 1, position: 0 })));
    await sink.insertDecisions(decisions);
  });

  it('the decisions: one held for 09:00, one sent at once (the core decides them so)', () => {
    expect(
      decisions.map(({ decision }) => [decision.decision_id, decision.outcome, deliverAt(decision)]),
    ).toEqual([
      ['upload-ready:e1', 'sent', at('2026-12-08T09:00:00Z')],
      ['weekly-tip:e2', 'sent', null],
    ]);
  });

  it('the audit writer stores deliver_at (null on a send made at once) and the audit reader returns it', async () => {
    const audited = await new ClickHouseAuditReader(client, database).decisions('u1', { limit: 10 });
    expect(audited.map((d) => [d.decision_id, d.deliver_at])).toEqual([
      ['weekly-tip:e2', null],
      ['upload-ready:e1', at('2026-12-08T09:00:00Z')],
    ]);
  });

  it('the replay writer stores it too', async () => {
    await new ClickHouseReplayStore(client, database, () => 0).insertDecisions('r1', decisions);
    const rows = await (
      await client.query({
        query: `SELECT decision_id, deliver_at FROM \`${database}\`.replay_decisions FINAL ORDER BY decision_id`,
        format: 'JSONEachRow',
      })
    ).json<{ decision_id: string; deliver_at: string | null }>();
    expect(rows).toEqual([
      { decision_id: 'upload-ready:e1', deliver_at: String(at('2026-12-08T09:00:00Z')) },
      { decision_id: 'weekly-tip:e2', deliver_at: null },
    ]);
  });

  it('the state rebuilt from the audit counts the held send at its delivery, as decide did', async () => {
    // Recent sends from ten minutes before the last entry (23:20): the held send was decided
    // before that (23:00) but is delivered after it (09:00), so it is one of them.
    const histories = await new ClickHouseRecordedLog(client, database).partitionHistories(0, 2, 10 * MINUTE);
    const rebuilt = statesFromHistories(histories, { messages: new Map(), caps: [] }).get('u1');
    expect(rebuilt?.sends).toEqual([
      'upload-ready',
      1,
      at('2026-12-08T09:00:00Z'),
      'weekly-tip',
      1,
      at('2026-12-07T23:30:00Z'),
    ]);
    expect(rebuilt?.sends).toEqual(state?.sends);
    expect(rebuilt?.recent).toEqual([
      at('2026-12-07T23:30:00Z'),
      'webhook',
      at('2026-12-08T09:00:00Z'),
      'webhook',
    ]);
    expect(rebuilt?.recent).toEqual(state?.recent);
  });
});
