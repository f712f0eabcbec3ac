import { createHmac } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { UnsubscribeTarget } from '../../api/auth/unsubscribe-token.ts';
import {
  newUnsubscribeSecret,
  signUnsubscribeToken,
  unsubscribeUrl,
  verifyUnsubscribeToken,
} from '../../api/auth/unsubscribe-token.ts';

const SECRET = newUnsubscribeSecret();
const ADA: UnsubscribeTarget = { user_id: 'ada', message_id: 'weekly-tip', channel: 'email' };
const BASE64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const base64url = (text: string) => Buffer.from(text).toString('base64url');

describe('unsubscribe tokens', () => {
  it('verify to what they were signed for, with any user id', () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1, maxLength: 256, unit: 'grapheme' }), (user_id) => {
        const target = { ...ADA, user_id };
        expect(verifyUnsubscribeToken(SECRET, signUnsubscribeToken(SECRET, target))).toEqual(target);
      }),
    );
  });

  it('are URL-safe as they are, and the link is under the public URL', () => {
    const token = signUnsubscribeToken(SECRET, { ...ADA, user_id: 'ü/?#&= 1' });
    expect(token).toMatch(/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{43}$/);
    expect(unsubscribeUrl('https://nudge.example.com/', token)).toBe(
      `https://nudge.example.com/v1/unsubscribe/${token}`,
    );
  });

  it('never expire: the same target signs to the same token whenever it is made', () => {
    expect(signUnsubscribeToken(SECRET, ADA)).toBe(signUnsubscribeToken(SECRET, { ...ADA }));
  });

  it('refuses another secret, and any change to the payload or the signature', () => {
    const token = signUnsubscribeToken(SECRET, ADA);
    const [payload = '', signature = ''] = token.split('.');
    const bob = base64url(JSON.stringify({ ...ADA, user_id: 'bob' }));
    // The last character's unused bits: another spelling of the same bytes is refused too.
    const last = BASE64URL.indexOf(signature.slice(-1));
    const respelled = `${signature.slice(0, -1)}${BASE64URL[last ^ 1] ?? ''}`;
    const flipped = `${signature.slice(0, 10)}${signature[10] === 'A' ? 'B' : 'A'}${signature.slice(11)}`;
    for (const forged of [
      `${bob}.${signature}`,
      `${payload}.${flipped}`,
      `${payload}.${respelled}`,
      `${payload}.${signature}.x`,
      `${payload}.${signature.slice(0, 42)}`,
      payload,
      `.${signature}`,
      '',
      'x'.repeat(5_000),
    ])
      expect(verifyUnsubscribeToken(SECRET, forged), forged).toBeUndefined();
    expect(verifyUnsubscribeToken(newUnsubscribeSecret(), token)).toBeUndefined();
  });

  it('refuses a signed payload that is not a target (a secret reused elsewhere signs no strange one)', () => {
    for (const payload of [
      'not json',
      JSON.stringify(null),
      JSON.stringify({ ...ADA, channel: 'fax' }),
      JSON.stringify({ ...ADA, user_id: '' }),
      JSON.stringify({ ...ADA, message_id: '../x' }),
      JSON.stringify({ user_id: 'ada' }),
    ]) {
      const text = base64url(payload);
      const signed = `${text}.${createHmac('sha256', SECRET).update(text).digest('base64url')}`;
      expect(verifyUnsubscribeToken(SECRET, signed), payload).toBeUndefined();
    }
  });
});
