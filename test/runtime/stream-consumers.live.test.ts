import { JetStreamPublisher } from '../../pipeline/adapters/nats/jetstream-publisher.ts';
import { createClient } from '@clickhouse/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrateAudit } from '../../pipeline/adapters/clickhouse/audit-schema.ts';
import { ClickHouseAuditSink } from '../../pipeline/adapters/clickhouse/clickhouse-audit-sink.ts';
import {
  DeliveringDecisionSink,
  ensureDeliveriesStream,
} from '../../pipeline/adapters/nats/deliveries-stream.ts';
import { JetStreamDecisionSink } from '../../pipeline/adapters/nats/jetstream-decision-sink.ts';
import type { Delivery } from '../../pipeline/ports/delivery.ts';
import { decisionRowReader, logEntryReader } from '../../pipeline/adapters/nats/stream-readers.ts';
import { encodeLines, lineOf } from '../../pipeline/adapters/nats/packs.ts';
import { decisionRow } from '../../pipeline/ports/decision-row.ts';
import { explain } from '../../pipeline/core/explain.ts';
import { AuditWriter } from '../../pipeline/runtime/audit-writer.ts';
import { Replayer } from '../../pipeline/replay/replayer.ts';
import { config, livePipeline, onboarding } from './live-pipeline.ts';

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

describe('from the streams: audit writers into ClickHouse, deliveries to senders', () => {
  it('every entry and every decision lands in ClickHouse once, equal to nudge replay', async () => {
    const { ns, nc, jsm } = live;
    const { entries, rules } = await onboarding();
    await live.publish(entries);
    await live.decideAll(rules, 100);
    const js = nc.jetstream();
    const sink = new ClickHouseAuditSink(clickhouse, ns.database);
    const logWriter = new AuditWriter(logEntryReader(js, jsm, ns, 'audit_writer'), (items) =>
      sink.insertEntries(items),
    );
    for (let step = 0; step < 20; step++) if ((await logWriter.step()) === 0) break;
    // ClickHouse cannot take the decisions (the table is gone): nothing is acked, nothing lost.
    await clickhouse.command({ query: `DROP TABLE \`${ns.database}\`.decisions` });
    const decisionWriter = new AuditWriter(
      decisionRowReader(js, jsm, ns, 'audit_writer'),
      (rows) => sink.insertDecisionRows(rows),
      0,
    );
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
        explanation: explain(d),
        explanation_data: JSON.stringify(d.explanation),
      }))
      .sort((a, b) => (a.decision_id < b.decision_id ? -1 : 1));
    const stored = await rows<{
      decision_id: string;
      outcome: string;
      reason: string | null;
      body: string | null;
      explanation: string;
      explanation_data: string;
    }>(
      `SELECT decision_id, outcome, reason, body, explanation, explanation_data FROM \`${ns.database}\`.decisions FINAL`,
    );
    expect(stored.sort((a, b) => (a.decision_id < b.decision_id ? -1 : 1))).toEqual(expected);
    const [logged] = await rows<{ n: string }>(
      `SELECT count() AS n FROM \`${ns.database}\`.log_entries FINAL`,
    );
    expect(Number(logged?.n)).toBe(entries.length);
  });

  it('a decisions stream written before its lines were rows is stored all the same', async () => {
    const { ns, nc, jsm } = live;
    const { entries, rules } = await onboarding();
    const replayer = new Replayer(rules.index, rules.caps);
    const decisions = entries.flatMap((entry) => replayer.apply(entry));
    const positioned = decisions.map((decision, i) => ({
      decision,
      partition: 1,
      seq: 9_000 + i,
      caps_version: i % 2,
    }));
    // Old lines, `{decision, partition, seq, caps_version}`, in a pack beside a line of the new form.
    const js = nc.jetstream();
    const half = Math.ceil(positioned.length / 2);
    const old = positioned.slice(0, half);
    await js.publish(ns.decisionsSubject(1), encodeLines(old.map((d) => lineOf(d))));
    const fresh = positioned.slice(half);
    await js.publish(
      ns.decisionsSubject(1),
      encodeLines(fresh.map((d) => lineOf(decisionRow(d.decision, d, d.caps_version)))),
    );
    const sink = new ClickHouseAuditSink(clickhouse, ns.database);
    const writer = new AuditWriter(decisionRowReader(js, jsm, ns, 'audit_writer_of_old_lines'), (r) =>
      sink.insertDecisionRows(r),
    );
    for (let step = 0; step < 20; step++) if ((await writer.step()) === 0) break;
    const expected = positioned.map((d) => decisionRow(d.decision, d, d.caps_version));
    const columns = Object.keys(expected[0] ?? {});
    // 64-bit integers come back quoted: as numbers again, to compare with the rows written.
    const stored = (
      await rows<Record<string, unknown>>(
        `SELECT ${columns.join(', ')} FROM \`${ns.database}\`.decisions FINAL WHERE seq >= 9000 ORDER BY seq`,
      )
    ).map((row) =>
      Object.fromEntries(
        Object.entries(row).map(([k, v]) => [
          k,
          ['at', 'seq', 'caps_version', 'deliver_at'].includes(k) && v !== null ? Number(v) : v,
        ]),
      ),
    );
    expect(stored).toEqual(expected);
  });

  it("the matcher's sink puts every send on the deliveries stream of its channel, once", async () => {
    const { ns, nc, jsm } = live;
    const { entries, rules } = await onboarding();
    await ensureDeliveriesStream(jsm, ns);
    const publisher = new JetStreamPublisher(nc);
    const sink = new DeliveringDecisionSink(new JetStreamDecisionSink(publisher, ns), publisher, ns);
    const replayer = new Replayer(rules.index, rules.caps);
    const decisions = entries.flatMap((entry) => replayer.apply(entry));
    const sends = decisions.filter((d) => d.outcome === 'sent');
    expect(sends.length).toBeGreaterThan(0);
    const batch = decisions.map((decision, seq) => ({ decision, partition: 0, seq: seq + 1 }));
    await sink.publish(batch);
    // The batch published again (a crash or a lost lease before the commit): nothing new is delivered.
    await sink.publish(batch);
    const info = await jsm.streams.info(ns.deliveriesStream);
    expect(info.state.messages).toBe(sends.length);
    const delivered: Delivery[] = [];
    for (let seq = info.state.first_seq; seq <= info.state.last_seq; seq++) {
      const message = await jsm.streams.getMessage(ns.deliveriesStream, { seq });
      const delivery = JSON.parse(new TextDecoder().decode(message.data)) as Delivery;
      expect(message.subject).toBe(ns.deliverySubject(delivery.channel as 'push'));
      delivered.push(delivery);
    }
    expect(delivered.map((d) => [d.decision_id, d.body]).sort()).toEqual(
      sends.map((d) => [d.decision_id, d.content.body]).sort(),
    );
    await jsm.streams.delete(ns.deliveriesStream);
  });
});
