import { describe, expect, it } from 'vitest';
import { NdjsonLogFile } from '../../pipeline/adapters/file/ndjson-log-file.ts';
import { readJsonDefinitions } from '../../pipeline/adapters/file/json-definitions-file.ts';
import { compileCaps } from '../../pipeline/core/caps.ts';
import type { Decision } from '../../pipeline/core/decision.ts';
import { GlobalCapListSchema, MessageListSchema } from '../../pipeline/core/message-schema.ts';
import { buildRuleIndex } from '../../pipeline/core/rule-index.ts';
import type { DecisionRow } from '../../pipeline/ports/decision-row.ts';
import { decisionRow, positionedDecisionOf } from '../../pipeline/ports/decision-row.ts';
import { Replayer } from '../../pipeline/replay/replayer.ts';

/** Every decision of a fixture's log, decided as `nudge replay` does. */
async function decisionsOf(fixture: string): Promise<Decision[]> {
  const dir = `test/fixtures/replay/${fixture}`;
  const messages = await readJsonDefinitions(`${dir}/messages.json`, MessageListSchema);
  const caps = compileCaps(await readJsonDefinitions(`${dir}/caps.json`, GlobalCapListSchema));
  const replayer = new Replayer(buildRuleIndex(messages), caps);
  const decisions: Decision[] = [];
  for await (const batch of new NdjsonLogFile(`${dir}/log.ndjson`).batches())
    for (const entry of batch) decisions.push(...replayer.apply(entry));
  return decisions;
}

describe('a decision as its audit row, the decisions stream line', () => {
  it.each(['held-sends', 'seed-hourly', 'onboarding'])(
    'gives back every decision of the %s fixture, key for key and in the same key order',
    async (fixture) => {
      const decisions = await decisionsOf(fixture);
      expect(new Set(decisions.map((d) => d.outcome)).size).toBeGreaterThan(1);
      decisions.forEach((decision, i) => {
        const position = { partition: i % 8, seq: 1 + i };
        const caps_version = i % 3;
        const line = JSON.stringify(decisionRow(decision, position, caps_version));
        const back = positionedDecisionOf(JSON.parse(line) as DecisionRow);
        expect(back).toEqual({ decision, ...position, ...(caps_version === 0 ? {} : { caps_version }) });
        expect(JSON.stringify(back.decision)).toBe(JSON.stringify(decision));
      });
    },
  );
});
