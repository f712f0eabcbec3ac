import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { logEntryRow } from '../../../pipeline/adapters/clickhouse/audit-rows.ts';
import { decisionRow } from '../../../pipeline/ports/decision-row.ts';
import { AUDIT_TABLES, migrateAudit } from '../../../pipeline/adapters/clickhouse/audit-schema.ts';
import { REASONS } from '../../../pipeline/core/decision.ts';
import { compileCaps } from '../../../pipeline/core/caps.ts';
import { decide } from '../../../pipeline/core/decide.ts';
import type { LogEntry } from '../../../pipeline/core/log-entry.ts';
import { MessageSchema } from '../../../pipeline/core/message-schema.ts';
import { buildRuleIndex } from '../../../pipeline/core/rule-index.ts';
import { testClickHouse } from './clickhouse-test-db.ts';

const { client, database, drop } = testClickHouse();
afterAll(drop);

async function rows<T>(query: string): Promise<T[]> {
  const result = await client.query({ query, format: 'JSONEachRow' });
  return result.json<T>();
}

const columnsOf = (table: string) =>
  rows<{ name: string; type: string }>(
    `SELECT name, type FROM system.columns WHERE database = '${database}' AND table = '${table}'`, // in table order: 18.16 has no `position` column
  );

describe('migrateAudit on a real ClickHouse', () => {
  beforeAll(() => migrateAudit(client, database));

  it('creates both tables with the documented columns, in order', async () => {
    for (const [table, spec] of Object.entries(AUDIT_TABLES)) {
      expect((await columnsOf(table)).map((c) => c.name)).toEqual(spec.columns.map((c) => c.name));
    }
  });

  it('is idempotent, and adds a column an older table lacks', async () => {
    await migrateAudit(client, database);
    await client.command({ query: `ALTER TABLE \`${database}\`.decisions DROP COLUMN explanation_data` });
    expect((await columnsOf('decisions')).map((c) => c.name)).not.toContain('explanation_data');
    await migrateAudit(client, database);
    expect((await columnsOf('decisions')).map((c) => c.name)).toContain('explanation_data');
  });

  it('stores rows written twice (a retry after a crash) once, as FINAL reads them', async () => {
    const index = buildRuleIndex([
      MessageSchema.parse({
        id: 'hello',
        channel: 'push',
        state: 'live',
        trigger: { event: 'signed-up' },
        template: { subject: 'Hi', body: 'Welcome, {{ user.name | fallback: "friend" }} — it\'s \\ here' },
      }),
    ]);
    const entries: LogEntry[] = [
      {
        type: 'track',
        id: 'e1',
        name: 'signed-up',
        user_id: 'u1',
        received_at: 1_793_610_000_000,
        metadata: { a: 1 },
      },
      {
        type: 'identify',
        id: 'i1',
        user_id: 'u1',
        received_at: 1_793_610_000_500,
        attributes: { name: "O'Brien" },
      },
    ];
    const first = entries[0];
    if (first === undefined) throw new Error('no entry');
    const { decisions } = decide(undefined, first, index, compileCaps([]));
    const logRows = entries.map((entry, seq) => logEntryRow(entry, { partition: 3, seq }));
    const decisionRows = decisions.map((d) => decisionRow(d, { partition: 3, seq: 0 }));
    for (let attempt = 0; attempt < 2; attempt++) {
      await client.insert({ table: `${database}.log_entries`, values: logRows, format: 'JSONEachRow' });
      await client.insert({ table: `${database}.decisions`, values: decisionRows, format: 'JSONEachRow' });
    }
    const [plain] = await rows<{ n: string }>(`SELECT count() AS n FROM \`${database}\`.decisions`);
    expect(Number(plain?.n)).toBeGreaterThanOrEqual(1);
    const stored = await rows<Record<string, unknown>>(`SELECT * FROM \`${database}\`.decisions FINAL`);
    expect(stored).toEqual([
      {
        ...decisionRows[0],
        at: String(decisionRows[0]?.at), // UInt64 comes back as a JSON string
        seq: String(decisionRows[0]?.seq),
        caps_version: String(decisionRows[0]?.caps_version),
      },
    ]);
    const entriesStored = await rows<{ entry_id: string; created_at: null; attributes: string }>(
      `SELECT entry_id, created_at, attributes FROM \`${database}\`.log_entries FINAL ORDER BY seq`,
    );
    expect(entriesStored).toEqual([
      { entry_id: 'e1', created_at: null, attributes: '{}' },
      { entry_id: 'i1', created_at: null, attributes: JSON.stringify({ name: "O'Brien" }) },
    ]);
  });

  it('fills decision_facts from every insert into decisions, whatever the outcome and reason', async () => {
    const base = decisionRow(
      {
        decision_id: 'm:x',
        entry_id: 'x',
        message_id: 'm',
        message_version: 1,
        user_id: 'u9',
        channel: 'sms',
        at: 1_793_610_000_000,
        outcome: 'sent',
        reason: null,
        content: { subject: null, body: 'b' },
        explanation: null,
      },
      { partition: 0, seq: 0 },
    );
    const verdicts = [
      ['sent', null],
      ...REASONS.map((reason) => [
        ['event_filter', 'audience'].includes(reason) ? 'filtered' : 'suppressed',
        reason,
      ]),
    ] as const;
    const values = verdicts.map(([outcome, reason], i) => ({
      ...base,
      decision_id: `m:f${i}`,
      entry_id: `f${i}`,
      outcome,
      reason,
    }));
    await client.insert({ table: `${database}.decisions`, values, format: 'JSONEachRow' });
    const facts = await rows<{ outcome: string; reason: string; user_key: string }>(
      `SELECT outcome, reason, user_key FROM \`${database}\`.decision_facts FINAL WHERE entry_id LIKE 'f%' ORDER BY entry_id`,
    );
    expect(facts.map((f) => [f.outcome, f.reason])).toEqual(verdicts.map(([o, r]) => [o, r ?? '']));
    const [hash] = await rows<{ h: string }>(`SELECT toString(cityHash64('u9')) AS h`);
    expect(new Set(facts.map((f) => f.user_key))).toEqual(new Set([hash?.h]));
  });
});
