import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ApiEntrySchema, isWellFormedApiEntry, LIMITS } from '../../api/routes/ingest/ingest.schemas.ts';

const near = (limit: number) =>
  fc.oneof(
    fc.string({ maxLength: 6 }),
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
  { weight: 8, arbitrary: fc.string({ maxLength: 8 }) },
  { weight: 1, arbitrary: near(LIMITS.keyLength) },
  { weight: 1, arbitrary: fc.constantFrom('__proto__', 'constructor', '0', '17', 'toString') },
);
const flat = fc.oneof(
  { weight: 8, arbitrary: fc.dictionary(key, scalar, { maxKeys: 6 }) },
  {
    weight: 1,
    arbitrary: fc
      .constantFrom(LIMITS.keys, LIMITS.keys + 1)
      .map((n) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, i]))),
  },
  { weight: 1, arbitrary: fc.constantFrom(null, [], 'x', 3) },
);
const id = near(LIMITS.idLength);
const timestamp = fc.oneof(
  fc.nat(),
  fc.constantFrom(-1, 1.5, Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER + 2, '5'),
);

const track = fc.record(
  {
    type: fc.constant('track'),
    id,
    name: id,
    user_id: id,
    created_at: timestamp,
    metadata: flat,
    context: flat,
  },
  { requiredKeys: ['type', 'name', 'user_id'] },
);
const identify = fc.record(
  { type: fc.constant('identify'), id, user_id: id, attributes: flat },
  { requiredKeys: ['type', 'user_id', 'attributes'] },
);
/** Something to break a well-formed entry with, now and then. */
const perturbation = fc.oneof(
  fc.constant({}),
  fc.constant({}),
  fc.constant({}),
  fc.record({ received_at: fc.nat() }),
  fc.record({ extra: fc.string() }),
  fc.record({ type: fc.constantFrom('trak', 'identify', 'track') }),
  fc.record({ attributes: flat }),
  fc.record({ id: fc.constant(7) }),
  fc.record({ user_id: fc.constant('') }),
);

const candidate = fc
  .tuple(fc.oneof(track, identify), perturbation)
  // Through JSON, as a request body arrives.
  .map(([entry, change]) => JSON.parse(JSON.stringify({ ...entry, ...change })) as unknown);

describe('the fast check of an API entry', () => {
  it('accepts only entries the schema accepts, and gives the same entry', () => {
    let accepted = 0;
    fc.assert(
      fc.property(candidate, (entry) => {
        if (!isWellFormedApiEntry(entry)) return;
        accepted++;
        const parsed = ApiEntrySchema.safeParse(entry);
        expect(parsed.success, JSON.stringify(entry)).toBe(true);
        expect(parsed.data).toEqual(entry);
        const metadata = (entry as { metadata?: object }).metadata;
        if (metadata !== undefined)
          expect(Object.keys((parsed.data as { metadata?: object }).metadata ?? {})).toEqual(
            Object.keys(metadata),
          );
      }),
      { numRuns: 20_000 },
    );
    // A check that accepted nothing would pass the property and help nobody.
    expect(accepted).toBeGreaterThan(200);
  });

  it('accepts the entries a product sends', () => {
    expect(
      isWellFormedApiEntry({
        type: 'track',
        id: 'e1',
        name: 'upload_completed',
        user_id: 'u1',
        metadata: { file_name: 'q3.pdf', size: 3 },
        context: { url: '/app' },
      }),
    ).toBe(true);
    expect(
      isWellFormedApiEntry({
        type: 'identify',
        user_id: 'u1',
        attributes: { plan: 'pro', first_name: null },
      }),
    ).toBe(true);
  });
});
