import { createClient } from '@clickhouse/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrateAudit } from '../../../pipeline/adapters/clickhouse/audit-schema.ts';
import { AuditWriter } from '../../../pipeline/adapters/clickhouse/audit-writer.ts';
import { Replayer } from '../../../pipeline/replay/replayer.ts';
import { config, livePipeline, onboarding } from '../../runtime/live-pipeline.ts';

const PARTITIONS = 2;
const clickhouse = createClient({ url: config.clickhouseUrl });
let live: Awaited<ReturnType<typeof livePipeline>>;

beforeAll(async () => {
  live = await livePipeline(PARTITIONS);
  await migrateAudit(clickhouse, live.ns.database);
});

afterAll(async () => {
  await clickhouse.command({ query: `DROP DATABASE IF EXISTS \`${live.ns.database}\`` });
  await clickhouse.close();
  await live.close();
});

async function rows<T>(query: string): Promise<T[]> {
  return (await clickhouse.query({ query, format: 'JSONEachRow' })).json<T>();
}

describe('audit writers: log and decisions streams into ClickHouse', () => {
  it('every entry and every decision lands in ClickHouse once, equal to nudge replay', async () => {
    const { ns, nc, jsm } = live;
    const { entries, rules } = await onboarding();
    await live.publish(entries);
    await live.decideAll(rules, 100);
    const logWriter = new AuditWriter(nc.jetstream(), jsm, ns, clickhouse, 'log');
    for (let step = 0; step < 20; step++) if ((await logWriter.step()) === 0) break;
    // ClickHouse cannot take the decisions (the table is gone): nothing is acked, nothing lost.
    await clickhouse.command({ query: `DROP TABLE \`${ns.database}\`.decisions` });
    const decisionWriter = new AuditWriter(nc.jetstream(), jsm, ns, clickhouse, 'decisions', 0);
    await expect(decisionWriter.step()).rejects.toThrow();
    await migrateAudit(clickhouse, ns.database);
    let written = 0;
    for (let step = 0; step < 20; step++) {
      const count = await decisionWriter.step();
      written += count;
      if (count === 0) break;
    }
    expect(written).toBeGreaterThan(0);

    const replayer = new Replayer(rules.index, rules.caps);
    const expected = entries
      .flatMap((entry) => replayer.apply(entry))
      .map((d) => ({
        decision_id: d.decision_id,
        outcome: d.outcome,
        reason: d.reason,
        body: d.content?.body ?? null,
      }))
      .sort((a, b) => (a.decision_id < b.decision_id ? -1 : 1));
    const stored = await rows<{
      decision_id: string;
      outcome: string;
      reason: string | null;
      body: string | null;
    }>(`SELECT decision_id, outcome, reason, body FROM \`${ns.database}\`.decisions FINAL`);
    expect(stored.sort((a, b) => (a.decision_id < b.decision_id ? -1 : 1))).toEqual(expected);
    const [logged] = await rows<{ n: string }>(
      `SELECT count() AS n FROM \`${ns.database}\`.log_entries FINAL`,
    );
    expect(Number(logged?.n)).toBe(entries.length);
  });
});
