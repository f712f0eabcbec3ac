import { describe, expect, it } from 'vitest';
import { decide } from '../../pipeline/core/decide.ts';
import {
  isWellFormedEntry,
  LogEntrySchema,
  USABLE_METADATA_KEYS,
  usableMetadata,
} from '../../pipeline/core/log-entry.ts';
import type { FlatObject } from '../../pipeline/core/scalar.ts';
import { validate } from '../../pipeline/core/validation.ts';
import { AUTH, index, message, NONE, P256DH, track, verdicts } from './builders.ts';

const keys = (n: number): FlatObject =>
  Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i + 1}`, i + 1]));

describe('LogEntrySchema', () => {
  it('accepts track and identify entries', () => {
    expect(
      validate(LogEntrySchema, { type: 'track', id: 'e', name: 'n', user_id: 'u', received_at: 1 }).ok,
    ).toBe(true);
    expect(
      validate(LogEntrySchema, {
        type: 'identify',
        id: 'e',
        user_id: 'u',
        received_at: 1,
        attributes: { a: null },
      }).ok,
    ).toBe(true);
  });

  it.each([
    [
      { type: 'track', id: 'e', name: 'n', user_id: 'u', received_at: 1, metadata: { size: { kb: 1 } } },
      'metadata.size: nested objects are not allowed',
    ],
    [
      { type: 'track', id: 'e', name: 'n', user_id: 'u', received_at: 1, metadata: { tags: ['a'] } },
      'metadata.tags: arrays are not allowed',
    ],
    [{ type: 'track', id: 'e', name: 'n', user_id: 'u', received_at: 1.5 }, 'received_at: '],
    [{ type: 'track', id: 'e', name: 'n', user_id: 'u' }, 'received_at: required'],
    [{ type: 'track', id: '', name: 'n', user_id: 'u', received_at: 1 }, 'id: must not be empty'],
    [{ type: 'page', id: 'e', user_id: 'u', received_at: 1 }, 'type: unknown entry type "page"'],
    [
      { type: 'identify', id: 'e', user_id: 'u', received_at: 1, attributes: { a: [1] } },
      'attributes.a: arrays are not allowed',
    ],
  ] as const)('%j: %s', (input, error) => {
    const result = validate(LogEntrySchema, input);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.errors[0]?.startsWith(error), JSON.stringify(result.errors)).toBe(true);
  });
});

const sub = { endpoint: 'https://push.example/1', keys: { p256dh: P256DH, auth: AUTH } };
const head = { id: 'e', user_id: 'u', received_at: 1 };

describe('the preferences and push_subscription entries', () => {
  it.each([
    { type: 'preferences', ...head, channels: { email: false, sms: null }, messages: { 'weekly-tip': true } },
    { type: 'push_subscription', ...head, action: 'add', subscription: sub },
    { type: 'push_subscription', ...head, action: 'remove', subscription: sub },
  ])('accepts %j, and the fast check gives it back as written', (entry) => {
    expect(LogEntrySchema.parse(entry)).toEqual(entry);
    expect(isWellFormedEntry(JSON.parse(JSON.stringify(entry)))).toBe(true);
  });

  it('fills in channels and messages left out of a preferences entry (through the schema, not the fast check)', () => {
    const entry = { type: 'preferences', ...head, channels: { email: false } };
    expect(isWellFormedEntry(entry)).toBe(false);
    expect(LogEntrySchema.parse(entry)).toEqual({ ...entry, messages: {} });
  });

  it.each([
    [{ type: 'preferences', ...head, channels: { emial: false } }, 'channels.emial: unknown channel "emial"'],
    [
      { type: 'preferences', ...head, messages: { m: 'no' } },
      'messages.m: false opts out; true or null opts back in',
    ],
    [{ type: 'preferences', ...head, channels: {}, extra: 1 }, '(root): unknown key "extra"'],
    [
      { type: 'push_subscription', ...head, action: 'drop', subscription: sub },
      'action: expected "add" or "remove"',
    ],
    [
      { type: 'push_subscription', ...head, action: 'add', subscription: { ...sub, expirationTime: null } },
      'subscription: unknown key "expirationTime"',
    ],
    [
      { type: 'push_subscription', ...head, action: 'add', subscription: { ...sub, endpoint: 'ftp://x' } },
      'subscription.endpoint: expected an https URL',
    ],
    [
      {
        type: 'push_subscription',
        ...head,
        action: 'add',
        subscription: { endpoint: sub.endpoint, keys: { p256dh: P256DH } },
      },
      'subscription.keys.auth: required',
    ],
    [
      {
        type: 'push_subscription',
        ...head,
        action: 'add',
        subscription: { ...sub, keys: { p256dh: 'BNcR', auth: AUTH } },
      },
      'subscription.keys.p256dh: expected a P-256 public key: 65 bytes, base64url',
    ],
  ] as const)('refuses %j: %s', (input, error) => {
    expect(isWellFormedEntry(input)).toBe(false);
    const result = validate(LogEntrySchema, input);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.errors[0]?.startsWith(error), JSON.stringify(result.errors)).toBe(true);
  });

  it('names every entry type when the type is unknown', () => {
    const result = validate(LogEntrySchema, { type: 'page', ...head });
    expect(result.ok).toBe(false);
    if (!result.ok)
      expect(result.errors[0]).toBe(
        'type: unknown entry type "page": use one of "track", "identify", "preferences", "push_subscription"',
      );
  });
});

describe('the first 20 metadata keys', () => {
  it('usableMetadata keeps the first 20 keys in order', () => {
    expect(USABLE_METADATA_KEYS).toBe(20);
    expect(usableMetadata(undefined)).toBeUndefined();
    const twenty = keys(20);
    expect(usableMetadata(twenty)).toBe(twenty);
    expect(usableMetadata(keys(25))).toEqual(twenty);
    expect(Object.keys(usableMetadata(keys(25)) ?? {})).toEqual(Object.keys(twenty));
  });

  it('a condition on the 21st key sees it as missing; the first 20 work', () => {
    const metadata = keys(21);
    const verdictFor = (field: string, op: 'exists' | 'not_exists') =>
      verdicts(
        decide(
          undefined,
          track({ metadata }),
          index(message({ trigger: { event: 'evt', where: { field, op } } })),
          NONE,
        ).decisions,
      );
    expect(verdictFor('metadata.k1', 'exists')).toEqual(['sent']);
    expect(verdictFor('metadata.k20', 'exists')).toEqual(['sent']);
    expect(verdictFor('metadata.k21', 'exists')).toEqual(['filtered:event_filter']);
    expect(verdictFor('metadata.k21', 'not_exists')).toEqual(['sent']);
  });

  it('the 20 keys are counted in the order sent, __proto__ included', () => {
    const text = `{${['"__proto__": 0', ...Array.from({ length: 20 }, (_, i) => `"k${i + 1}": ${i + 1}`)].join(', ')}}`;
    const usable = usableMetadata(JSON.parse(text) as FlatObject) ?? {};
    expect(Object.hasOwn(usable, '__proto__')).toBe(true);
    expect(Object.hasOwn(usable, 'k19')).toBe(true);
    expect(Object.hasOwn(usable, 'k20')).toBe(false);
  });

  it('only metadata is limited: context keeps every key', () => {
    const rules = index(
      message({ trigger: { event: 'evt', where: { field: 'context.k30', op: 'eq', value: 30 } } }),
    );
    expect(verdicts(decide(undefined, track({ context: keys(30) }), rules, NONE).decisions)).toEqual([
      'sent',
    ]);
  });
});
