import fc from 'fast-check';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { NdjsonLogFile } from '../../pipeline/adapters/file/ndjson-log-file.ts';
import { isWellFormedEntry, LogEntrySchema } from '../../pipeline/core/log-entry.ts';
import { InputError } from '../../pipeline/errors.ts';

const scalar = fc.oneof(fc.string(), fc.double(), fc.integer(), fc.boolean(), fc.constant(null));
const anything = fc.oneof(
  scalar,
  fc.constant(undefined),
  fc.array(scalar),
  fc.dictionary(fc.string(), scalar),
  fc.constant(-1),
  fc.constant(2 ** 60),
);
const key = fc.constantFrom('__proto__', 'constructor', 'toString', 'a', 'size', '');
const flat = fc.dictionary(
  fc.oneof(key, fc.string()),
  fc.oneof({ arbitrary: scalar, weight: 8 }, { arbitrary: anything, weight: 1 }),
  { maxKeys: 4 },
);
/** Valid-looking values most of the time, so that both sides of the check are reached. */
const mostly = (valid: fc.Arbitrary<unknown>) =>
  fc.oneof({ arbitrary: valid, weight: 6 }, { arbitrary: anything, weight: 1 });
const entryish = fc.record(
  {
    type: fc.constantFrom('track', 'identify', 'page', undefined),
    id: mostly(fc.string()),
    name: mostly(fc.string()),
    user_id: mostly(fc.string()),
    received_at: mostly(fc.nat()),
    created_at: mostly(fc.nat()),
    metadata: mostly(flat),
    context: mostly(flat),
    attributes: mostly(flat),
  },
  { requiredKeys: ['type', 'id', 'user_id', 'received_at'] },
);

describe('isWellFormedEntry, the fast path before the schema', () => {
  it('never accepts what LogEntrySchema rejects (through JSON, as the log is read)', () => {
    let accepted = 0;
    fc.assert(
      fc.property(entryish, (candidate) => {
        const json: unknown = JSON.parse(JSON.stringify(candidate));
        if (!isWellFormedEntry(json)) return;
        accepted++;
        expect(LogEntrySchema.safeParse(json).success).toBe(true);
      }),
      { numRuns: 20_000 },
    );
    // The property means something only if the generator reaches the accepting side often.
    expect(accepted).toBeGreaterThan(200);
  });

  it('accepts the ordinary entries, so the fast path is taken', () => {
    expect(
      isWellFormedEntry({
        type: 'track',
        id: 'e',
        name: 'n',
        user_id: 'u',
        received_at: 1,
        metadata: { a: 1, b: null },
      }),
    ).toBe(true);
    expect(
      isWellFormedEntry({
        type: 'identify',
        id: 'e',
        user_id: 'u',
        received_at: 1,
        attributes: { plan: 'pro' },
      }),
    ).toBe(true);
  });
});

describe('NdjsonLogFile', () => {
  it('skips blank lines, accepts CRLF and a last line without newline, and names the line of a bad entry', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'nudge-log-'));
    const line = (id: string) =>
      JSON.stringify({ type: 'track', id, name: 'n', user_id: 'u', received_at: 1 });
    const good = join(dir, 'good.ndjson');
    await writeFile(good, `${line('a')}\r\n\n${line('b')}\n${line('c')}`);
    const ids: string[] = [];
    for await (const batch of new NdjsonLogFile(good).batches()) ids.push(...batch.map((e) => e.id));
    expect(ids).toEqual(['a', 'b', 'c']);

    const bad = join(dir, 'bad.ndjson');
    await writeFile(
      bad,
      `${line('a')}\n\n${JSON.stringify({ type: 'track', id: 'x', name: 'n', user_id: 'u', received_at: -5 })}\n`,
    );
    const read = async () => {
      const ids: string[] = [];
      for await (const batch of new NdjsonLogFile(bad).batches()) ids.push(...batch.map((e) => e.id));
      return ids;
    };
    await expect(read()).rejects.toThrow(InputError);
    await expect(read()).rejects.toThrow(/bad\.ndjson:3: received_at/);
  });
});
