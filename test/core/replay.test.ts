import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { compileCaps } from '../../pipeline/core/caps.ts';
import { decide } from '../../pipeline/core/decide.ts';
import { LogEntrySchema } from '../../pipeline/core/log-entry.ts';
import { GlobalCapListSchema, MessageListSchema } from '../../pipeline/core/message-schema.ts';
import { buildRuleIndex } from '../../pipeline/core/rule-index.ts';
import { replayLine } from '../../pipeline/replay/replay-line.ts';
import { Replayer } from '../../pipeline/replay/replayer.ts';
import { index, message, NONE, only, track } from './builders.ts';

const fixture = (name: string, file: string) =>
  readFileSync(join(import.meta.dirname, '..', 'fixtures', 'replay', name, file), 'utf8');
const lines = (text: string) => text.split('\n').filter((line) => line.trim() !== '');

describe('the seed-hourly replay fixture', () => {
  it('replays to the expected lines', () => {
    const messages = MessageListSchema.parse(JSON.parse(fixture('seed-hourly', 'messages.json')));
    const caps = compileCaps(GlobalCapListSchema.parse(JSON.parse(fixture('seed-hourly', 'caps.json'))));
    const replayer = new Replayer(buildRuleIndex(messages), caps);
    const out = lines(fixture('seed-hourly', 'log.ndjson')).flatMap((line) =>
      replayer.apply(LogEntrySchema.parse(JSON.parse(line))).map(replayLine),
    );
    expect(out).toEqual(lines(fixture('seed-hourly', 'expected.ndjson')));
    expect(replayer.summary).toMatchObject({
      entries: 6,
      decisions: 6,
      outcomes: { sent: 3, suppressed: 3, filtered: 0 },
      reasons: { min_interval: 3 },
    });
  });
});

describe('replayLine', () => {
  it('writes the DESIGN §7 keys in order, content only when sent, a missing subject as null', () => {
    const rules = index(
      message({ id: 'm', template: { body: 'b "q"' } }),
      message({ id: 'n', frequency: { max_sends: 0 } }),
    );
    const [sent, suppressed] = decide(
      undefined,
      track({ id: 'e\u2028"1"', user_id: 'ü', received_at: 7 }),
      rules,
      NONE,
    ).decisions;
    expect(sent === undefined ? '' : replayLine(sent)).toBe(
      '{"entry_id":"e\u2028\\"1\\"","message_id":"m","user_id":"ü","at":7,"outcome":"sent","reason":null,"content":{"subject":null,"body":"b \\"q\\""}}',
    );
    expect(suppressed === undefined ? '' : replayLine(suppressed)).toBe(
      '{"entry_id":"e\u2028\\"1\\"","message_id":"n","user_id":"ü","at":7,"outcome":"suppressed","reason":"max_sends"}',
    );
  });

  it('a sent subject is written as rendered', () => {
    const rules = index(message({ template: { subject: 'S {{ metadata.a }}', body: 'B' } }));
    const decision = only(
      decide(undefined, track({ id: 'e', received_at: 1, metadata: { a: 1 } }), rules, NONE).decisions,
    );
    expect(JSON.parse(replayLine(decision))).toEqual({
      entry_id: 'e',
      message_id: 'm',
      user_id: 'u1',
      at: 1,
      outcome: 'sent',
      reason: null,
      content: { subject: 'S 1', body: 'B' },
    });
  });
});
