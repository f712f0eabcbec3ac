import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { entryKey, RecentlyAccepted } from '../../api/routes/ingest/recently-accepted.ts';
import { DUPLICATE_WINDOW_MS } from '../../pipeline/adapters/nats/log-stream.ts';

const NOW = 1_793_610_000_000;
const GENERATION = 100_000;

describe('RecentlyAccepted', () => {
  it('answers when a remembered entry was received', () => {
    const recent = new RecentlyAccepted();
    recent.remember('u1', 'e1', NOW);
    expect(recent.receivedAt('u1', 'e1', NOW)).toBe(NOW);
    expect(recent.receivedAt('u1', 'e1', NOW + 1_000)).toBe(NOW);
  });

  it('knows nothing of an entry it was not told of, nor of the same id for another user', () => {
    const recent = new RecentlyAccepted();
    recent.remember('u1', 'e1', NOW);
    expect(recent.receivedAt('u1', 'e2', NOW)).toBeUndefined();
    expect(recent.receivedAt('u2', 'e1', NOW)).toBeUndefined();
    expect(recent.receivedAt('u', '1e1', NOW)).toBeUndefined();
  });

  it('never answers one user with the time of another user’s entry of the same id', () => {
    const recent = new RecentlyAccepted();
    recent.remember('u1', 'shared', NOW);
    recent.remember('u2', 'shared', NOW + 1);
    expect(recent.receivedAt('u2', 'shared', NOW + 1)).toBe(NOW + 1);
    expect(recent.receivedAt('u1', 'shared', NOW + 1)).not.toBe(NOW + 1);
    expect(recent.receivedAt('u3', 'shared', NOW + 1)).toBeUndefined();
  });

  it('answers only within the duplicate window (2 minutes) before now', () => {
    const recent = new RecentlyAccepted();
    recent.remember('u1', 'e1', NOW);
    expect(DUPLICATE_WINDOW_MS).toBe(2 * 60_000);
    expect(recent.receivedAt('u1', 'e1', NOW + DUPLICATE_WINDOW_MS - 1)).toBe(NOW);
    expect(recent.receivedAt('u1', 'e1', NOW + DUPLICATE_WINDOW_MS)).toBeUndefined();
    expect(recent.receivedAt('u1', 'e1', NOW + 10 * DUPLICATE_WINDOW_MS)).toBeUndefined();
  });

  it('answers the latest time an entry was remembered at', () => {
    const recent = new RecentlyAccepted();
    recent.remember('u1', 'e1', NOW);
    recent.remember('u1', 'e1', NOW + 5_000);
    expect(recent.receivedAt('u1', 'e1', NOW + DUPLICATE_WINDOW_MS + 1_000)).toBe(NOW + 5_000);
  });

  it('answers the later time of an entry remembered again in a newer generation', () => {
    const recent = new RecentlyAccepted();
    recent.remember('u1', 'e1', NOW);
    for (let i = 1; i < GENERATION; i++) recent.remember('filler', `f${i}`, NOW);
    recent.remember('u1', 'e1', NOW + 5_000);
    expect(recent.receivedAt('u1', 'e1', NOW + 5_000)).toBe(NOW + 5_000);
  });

  it('remembers an entry for two generations of 100,000 entries, and forgets it after', () => {
    const recent = new RecentlyAccepted();
    recent.remember('u1', 'first', NOW);
    for (let i = 1; i < 2 * GENERATION; i++) recent.remember('filler', `f${i}`, NOW);
    expect(recent.receivedAt('u1', 'first', NOW)).toBe(NOW);
    expect(recent.receivedAt('filler', `f${GENERATION}`, NOW)).toBe(NOW);
    recent.remember('filler', 'one more', NOW);
    expect(recent.receivedAt('u1', 'first', NOW)).toBeUndefined();
    expect(recent.receivedAt('filler', `f${GENERATION - 1}`, NOW)).toBeUndefined();
    expect(recent.receivedAt('filler', `f${GENERATION}`, NOW)).toBe(NOW);
    expect(recent.receivedAt('filler', 'one more', NOW)).toBe(NOW);
  });

  it('always remembers at least the last 100,000 entries', () => {
    const recent = new RecentlyAccepted();
    const total = 2 * GENERATION + 12_345;
    for (let i = 0; i < total; i++) recent.remember('u', `e${i}`, NOW);
    expect(recent.receivedAt('u', `e${total - GENERATION}`, NOW)).toBe(NOW);
    expect(recent.receivedAt('u', `e${total - 1}`, NOW)).toBe(NOW);
  });
});

describe('entryKey', () => {
  it('reads no user id and id pair as another', () => {
    expect(entryKey('ab', 'c')).not.toBe(entryKey('a', 'bc'));
    expect(entryKey('1', '2:ab')).not.toBe(entryKey('12', 'ab'));
    const part = fc.string({ unit: fc.constantFrom('1', '2', ':', 'a'), maxLength: 5 });
    fc.assert(
      fc.property(part, part, part, part, (u1, i1, u2, i2) => {
        expect(entryKey(u1, i1) === entryKey(u2, i2)).toBe(u1 === u2 && i1 === i2);
      }),
      { numRuns: 2_000 },
    );
  });
});
