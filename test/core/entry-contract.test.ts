import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { EntryRules } from '../../pipeline/core/entry-contract.ts';
import { entryContract } from '../../pipeline/core/entry-contract.ts';

const LIMITS = { idLength: 8, keyLength: 4, stringLength: 6, keys: 3 };

const near = (limit: number) =>
  fc.oneof(
    fc.string({ maxLength: 3 }),
    fc.constantFrom(0, 1, limit - 1, limit, limit + 1).map((n) => 'x'.repeat(Math.max(n, 0))),
  );
const scalar = fc.oneof(
  near(LIMITS.stringLength),
  fc.double(),
  fc.integer(),
  fc.boolean(),
  fc.constant(null),
  fc.constant([1]),
  fc.constant({ a: 1 }),
);
const key = fc.oneof(
  { weight: 6, arbitrary: fc.string({ maxLength: 3 }) },
  { weight: 1, arbitrary: near(LIMITS.keyLength) },
  { weight: 1, arbitrary: fc.constantFrom('__proto__', 'constructor', '0', 'toString') },
);
const flat = fc.oneof(
  { weight: 8, arbitrary: fc.dictionary(key, scalar, { maxKeys: LIMITS.keys + 1 }) },
  { weight: 1, arbitrary: fc.constantFrom(null, [], 'x', 3) },
);
const id = fc.oneof(
  { weight: 8, arbitrary: near(LIMITS.idLength) },
  { weight: 1, arbitrary: fc.constant(7) },
);
const time = fc.oneof(fc.nat(), fc.constantFrom(-1, 1.5, Number.MAX_SAFE_INTEGER + 2, '5'));
const track = fc.record(
  {
    type: fc.constant('track'),
    id,
    name: id,
    user_id: id,
    received_at: time,
    created_at: time,
    metadata: flat,
    context: flat,
  },
  { requiredKeys: ['type', 'name', 'user_id'] },
);
const identify = fc.record(
  { type: fc.constant('identify'), id, user_id: id, received_at: time, attributes: flat },
  { requiredKeys: ['type', 'user_id', 'attributes'] },
);
const perturbation = fc.oneof(
  { weight: 4, arbitrary: fc.constant({}) },
  { weight: 1, arbitrary: fc.record({ extra: fc.string() }) },
  { weight: 1, arbitrary: fc.record({ type: fc.constantFrom('trak', 'identify', 'track') }) },
  { weight: 1, arbitrary: fc.record({ attributes: flat }) },
);
const candidate = fc
  .tuple(fc.oneof(track, identify), perturbation)
  // Through JSON, as entries are read.
  .map(([entry, change]) => JSON.parse(JSON.stringify({ ...entry, ...change })) as unknown);

const ruleSets: EntryRules[] = [];
for (const unknownKeys of ['keep', 'refuse'] as const)
  for (const id of ['required', 'optional'] as const)
    for (const receivedAt of ['required', 'optional', 'refused'] as const)
      for (const limits of [undefined, LIMITS]) ruleSets.push({ unknownKeys, id, receivedAt, limits });

describe('entryContract: the fast check holds to the schema of the same rules', () => {
  it.each(ruleSets.map((rules) => [JSON.stringify(rules), rules] as const))('%s', (_, rules) => {
    const contract = entryContract(rules);
    let accepted = 0;
    fc.assert(
      fc.property(candidate, (entry) => {
        if (!contract.isWellFormed(entry)) return;
        accepted++;
        const parsed = contract.entry.safeParse(entry);
        expect(parsed.success, JSON.stringify(entry)).toBe(true);
        // Refusing unknown keys, the check gives the schema's entry; keeping them, the entry as written.
        if (rules.unknownKeys === 'refuse') expect(parsed.data).toEqual(entry);
      }),
      { numRuns: 5_000 },
    );
    // Not vacuous: under the tightest rules about 1 candidate in 150 is well formed (some 30
    // expected here), so 10 or fewer is a broken generator, not chance (the bar was 20 of 3,000
    // runs, and a run drew 19).
    expect(accepted).toBeGreaterThan(10);
  });

  it('a check keeping unknown keys keeps a scalar "__proto__" key of a flat object; one refusing them leaves it to the schema', () => {
    const entry = JSON.parse(
      '{"type":"identify","id":"e","user_id":"u","received_at":1,"attributes":{"__proto__":1,"a":2}}',
    ) as unknown;
    expect(
      entryContract({ unknownKeys: 'keep', id: 'required', receivedAt: 'required' }).isWellFormed(entry),
    ).toBe(true);
    expect(
      entryContract({ unknownKeys: 'refuse', id: 'required', receivedAt: 'required' }).isWellFormed(entry),
    ).toBe(false);
  });
});
