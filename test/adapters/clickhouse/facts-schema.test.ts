import { afterAll, describe, expect, it } from 'vitest';
import { decisionRow } from '../../../pipeline/ports/decision-row.ts';
import { migrateAudit } from '../../../pipeline/adapters/clickhouse/audit-schema.ts';
import { DECISION_FACTS, REASON_CODES } from '../../../pipeline/adapters/clickhouse/facts-schema.ts';
import { REASONS } from '../../../pipeline/core/decision.ts';
import { testClickHouse } from './clickhouse-test-db.ts';

const { client, database, drop } = testClickHouse();
afterAll(drop);

const db = `\`${database}\``;
const enumOf = (names: readonly string[]) =>
  `Enum8(${names.map((name, i) => `'${name}' = ${i}`).join(', ')})`;
/** The reason enum of the release before `unsubscribed` and `unreachable`. */
const FIRST_RELEASE = enumOf([
  '',
  'event_filter',
  'audience',
  'schedule',
  'max_sends',
  'min_interval',
  'global_cap',
]);
/** Numbered in the order the checks run, as the tree had it for a while: the same names, other numbers. */
const CHECK_ORDER = enumOf(['', ...REASONS]);
const REASON_TYPE = DECISION_FACTS.columns.find((c) => c.name === 'reason')?.type ?? '';

async function rows<T>(query: string): Promise<T[]> {
  const result = await client.query({ query, format: 'JSONEachRow' });
  return result.json<T>();
}

const base = decisionRow(
  {
    decision_id: 'm:x',
    entry_id: 'x',
    message_id: 'm',
    message_version: 1,
    user_id: 'u1',
    channel: 'email',
    at: 1_793_610_000_000,
    outcome: 'sent',
    reason: null,
    content: { subject: null, body: 'b' },
    explanation: null,
  },
  { partition: 0, seq: 0 },
);
/** Decisions suppressed for these reasons, as the audit stores them. */
const insertDecisions = (prefix: string, reasons: readonly string[]) =>
  client.insert({
    table: `${database}.decisions`,
    values: reasons.map((reason, i) => ({
      ...base,
      decision_id: `m:${prefix}${i}`,
      entry_id: `${prefix}${i}`,
      outcome: 'suppressed',
      reason,
    })),
    format: 'JSONEachRow',
  });

/** The facts table and its view as a release with this reason enum made them: the new ones dropped. */
async function asMadeWith(reasonType: string) {
  for (const { name } of await factViews()) await client.command({ query: `DROP TABLE ${db}.\`${name}\`` });
  await client.command({ query: `ALTER TABLE ${db}.decision_facts MODIFY COLUMN reason ${reasonType}` });
  const select = DECISION_FACTS.columns
    .map((c) => `${c.from.replace(REASON_TYPE, reasonType)} AS \`${c.name}\``)
    .join(', ');
  await client.command({
    query: `CREATE MATERIALIZED VIEW ${db}.decision_facts_from_decisions TO ${db}.decision_facts AS SELECT ${select} FROM ${db}.decisions`,
  });
}

const factViews = () =>
  rows<{ name: string }>(
    `SELECT name FROM system.tables WHERE database = '${database}' AND engine = 'MaterializedView'`,
  );
const reasonType = async () =>
  (
    await rows<{ type: string }>(
      `SELECT type FROM system.columns WHERE database = '${database}' AND table = 'decision_facts' AND name = 'reason'`,
    )
  )[0]?.type;
/** Each decision's reason as `decisions` and as `decision_facts` hold it. */
const both = async () => ({
  decisions: await rows<{ entry_id: string; reason: string }>(
    `SELECT entry_id, ifNull(reason, '') AS reason FROM ${db}.decisions FINAL ORDER BY entry_id`,
  ),
  facts: await rows<{ entry_id: string; reason: string }>(
    `SELECT entry_id, reason FROM ${db}.decision_facts FINAL ORDER BY entry_id`,
  ),
});

describe("decision_facts' reason enum across releases", () => {
  it('numbers every reason of the core, each once, "" first', () => {
    expect(REASON_CODES[0]).toBe('');
    expect([...REASON_CODES].sort()).toEqual(['', ...REASONS].sort());
  });

  it('widens a table an older release made in place, keeping its rows, and replaces its view', async () => {
    await migrateAudit(client, database);
    await asMadeWith(FIRST_RELEASE);
    await insertDecisions('old', ['schedule', 'global_cap', 'min_interval']);
    // A row only the facts table has: kept if the table is altered in place, lost if it were made again.
    await client.insert({
      table: `${database}.decision_facts`,
      values: [
        {
          ...{
            day: '2026-11-01',
            hour: 0,
            at: 0,
            user_id: 'u',
            user_key: 0,
            message_id: 'm',
            channel: 'email',
          },
          ...{ outcome: 'suppressed', reason: 'max_sends', entry_id: 'zkept', decision_id: 'm:zkept' },
        },
      ],
      format: 'JSONEachRow',
    });
    // Until the migration, a new reason is refused by the old view ("Unknown element").
    await migrateAudit(client, database);
    expect(await reasonType()).toBe(REASON_TYPE);
    const views = await factViews();
    expect(views).toHaveLength(1);
    expect(views[0]?.name).not.toBe('decision_facts_from_decisions');
    await insertDecisions('new', ['unsubscribed', 'unreachable', 'schedule']);
    const { decisions, facts } = await both();
    expect(facts.at(-1)).toEqual({ entry_id: 'zkept', reason: 'max_sends' });
    expect(facts.slice(0, -1)).toEqual(decisions);
    expect(facts.map((f) => f.reason)).toEqual([
      'unsubscribed',
      'unreachable',
      'schedule',
      'schedule',
      'global_cap',
      'min_interval',
      'max_sends',
    ]);
    // Again: nothing to change.
    await migrateAudit(client, database);
    expect(await factViews()).toEqual(views);
  });

  it('makes a table whose numbers differ again, from the decisions', async () => {
    await asMadeWith(CHECK_ORDER);
    await insertDecisions('odd', ['unreachable', 'global_cap']);
    await migrateAudit(client, database);
    expect(await reasonType()).toBe(REASON_TYPE);
    expect(await factViews()).toHaveLength(1);
    const { decisions, facts } = await both();
    expect(facts).toEqual(decisions);
    expect(facts.filter((f) => f.entry_id.startsWith('odd')).map((f) => f.reason)).toEqual([
      'unreachable',
      'global_cap',
    ]);
  });
});
