import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Decision } from '../../pipeline/core/decision.ts';
import { REASONS } from '../../pipeline/core/decision.ts';
import { ReplayLineFormatter } from '../../pipeline/replay/replay-line.ts';

/** DESIGN §7 said plainly: the reference the fast formatter must equal byte for byte. */
function reference(decision: Decision): string {
  const { entry_id, message_id, user_id, at, outcome, reason } = decision;
  if (decision.outcome !== 'sent')
    return JSON.stringify({ entry_id, message_id, user_id, at, outcome, reason });
  const { subject, body } = decision.content;
  const { deliver_at } = decision;
  return JSON.stringify({
    entry_id,
    message_id,
    user_id,
    at,
    deliver_at,
    outcome,
    reason,
    content: { subject, body },
  });
}

const text = fc.oneof(
  fc.string(),
  fc.string({ unit: 'grapheme' }),
  fc.constantFrom('"', '\\', '\u2028', '\n', '</script>', '\ud800'),
);

const decision: fc.Arbitrary<Decision> = fc
  .record({
    entry_id: text,
    message_id: fc.constantFrom('m1', 'm2', 'a.b-c'),
    user_id: text,
    at: fc.nat({ max: Number.MAX_SAFE_INTEGER }),
    reason: fc.constantFrom(null, ...REASONS),
    subject: fc.option(text, { nil: null }),
    body: text,
    held: fc.option(fc.nat({ max: Number.MAX_SAFE_INTEGER }), { nil: undefined }),
  })
  .map(({ reason, subject, body, held, ...base }) => {
    const common = {
      ...base,
      decision_id: `${base.message_id}:${base.entry_id}`,
      message_version: 1,
      channel: 'push' as const,
    };
    if (reason === null)
      return {
        ...common,
        outcome: 'sent',
        reason,
        content: { subject, body },
        explanation: null,
        ...(held === undefined ? {} : { deliver_at: held }),
      };
    const outcome = reason === 'event_filter' || reason === 'audience' ? 'filtered' : 'suppressed';
    return { ...common, outcome, reason, content: null, explanation: null } as unknown as Decision; // explanations are not written
  });

describe('ReplayLineFormatter', () => {
  it('writes exactly what JSON.stringify of the DESIGN §7 object writes, across entries sharing ids', () => {
    fc.assert(
      fc.property(fc.array(decision, { maxLength: 30 }), (decisions) => {
        const formatter = new ReplayLineFormatter();
        for (const d of decisions) expect(formatter.format(d)).toBe(reference(d));
      }),
      { numRuns: 500 },
    );
  });

  it('puts the keys in the contract order, content only on sends', () => {
    const formatter = new ReplayLineFormatter();
    const [sent, suppressed] = fc
      .sample(decision, { numRuns: 200, seed: 42 })
      .reduce<[Decision[], Decision[]]>(
        ([s, o], d) => (d.outcome === 'sent' ? [[...s, d], o] : [s, [...o, d]]),
        [[], []],
      );
    expect(sent.length).toBeGreaterThan(0);
    expect(suppressed.length).toBeGreaterThan(0);
    for (const d of sent) {
      expect(Object.keys(JSON.parse(formatter.format(d)) as object)).toEqual([
        'entry_id',
        'message_id',
        'user_id',
        'at',
        ...(d.outcome === 'sent' && d.deliver_at !== undefined ? ['deliver_at'] : []),
        'outcome',
        'reason',
        'content',
      ]);
    }
    for (const d of suppressed) {
      expect(Object.keys(JSON.parse(formatter.format(d)) as object)).toEqual([
        'entry_id',
        'message_id',
        'user_id',
        'at',
        'outcome',
        'reason',
      ]);
    }
  });
});
