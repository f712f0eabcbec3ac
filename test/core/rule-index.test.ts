import { describe, expect, it } from 'vitest';
import { buildRuleIndex } from '../../pipeline/core/rule-index.ts';
import { message } from './builders.ts';

describe('buildRuleIndex', () => {
  it('indexes only live messages, by trigger event, in candidate order', () => {
    const messages = [
      message({ id: 'b', trigger: { event: 'x' } }),
      message({ id: 'a', trigger: { event: 'x' } }),
      message({ id: 'p', trigger: { event: 'x' }, state: 'paused' }),
      message({ id: 's', trigger: { event: 'y' }, state: 'stopped' }),
      message({ id: 'd', trigger: { event: 'y' }, state: 'draft' }),
      message({ id: 'hi', trigger: { event: 'x' }, priority: 10 }),
      message({ id: 'lo', trigger: { event: 'x' }, priority: -10 }),
      message({ id: 'y1', trigger: { event: 'y' } }),
    ];
    const rules = buildRuleIndex(messages);
    expect([...rules.byEvent.keys()].sort()).toEqual(['x', 'y']);
    expect(rules.byEvent.get('x')?.map((m) => m.id)).toEqual(['hi', 'a', 'b', 'lo']);
    expect(rules.byEvent.get('y')?.map((m) => m.id)).toEqual(['y1']);
    expect(rules.messages).toBe(messages);
  });

  it('the order does not depend on the input order', () => {
    const ids = ['a', 'B', 'b', 'A', 'a_b', '0', 'a-b', 'a.b', 'ab', 'Z9'];
    const forward = buildRuleIndex(ids.map((id) => message({ id })));
    const backward = buildRuleIndex([...ids].reverse().map((id) => message({ id })));
    const order = [...ids].sort();
    expect(forward.byEvent.get('evt')?.map((m) => m.id)).toEqual(order);
    expect(backward.byEvent.get('evt')?.map((m) => m.id)).toEqual(order);
  });

  it('compiles the frequency, exemption and live_since', () => {
    const compiled = buildRuleIndex([
      message({ live_since: 5, frequency: { min_interval: '1m', max_sends: 3 }, global_cap_exempt: true }),
    ]).byEvent.get('evt')?.[0];
    expect(compiled).toMatchObject({
      live_since: 5,
      min_interval: 60_000,
      max_sends: 3,
      counts_toward_caps: false,
    });
    expect(buildRuleIndex([message({ live_since: null })]).byEvent.get('evt')?.[0]?.live_since).toBe(0);
  });
});
