import { describe, expect, it } from 'vitest';
import type { TrackTarget } from '../../api/auth/track-token.ts';
import { openPixelUrl, signTrackToken, trackUrl, verifyTrackToken } from '../../api/auth/track-token.ts';
import {
  newUnsubscribeSecret,
  signFields,
  signUnsubscribeToken,
  verifyUnsubscribeToken,
} from '../../api/auth/unsubscribe-token.ts';

const SECRET = newUnsubscribeSecret();
const OPEN: TrackTarget = {
  kind: 'open',
  decision_id: 'weekly-tip:e1',
  message_id: 'weekly-tip',
  user_id: 'ada',
  channel: 'email',
  at: 1_793_600_000_000,
};
const CLICK: TrackTarget = {
  ...OPEN,
  kind: 'click',
  decision_id: 'upload-push:e2',
  message_id: 'upload-push',
  channel: 'push',
};

describe('tracking tokens', () => {
  it('verify to what they were signed for, kind and send time included', () => {
    for (const target of [OPEN, CLICK, { ...OPEN, user_id: 'ü/?#&= 1' }])
      expect(verifyTrackToken(SECRET, signTrackToken(SECRET, target))).toEqual(target);
  });

  it('are URL-safe, under the public URL: the pixel at /open.gif, the push link bare', () => {
    const token = signTrackToken(SECRET, { ...OPEN, user_id: 'ü/?#&= 1' });
    expect(token).toMatch(/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{43}$/);
    expect(openPixelUrl('https://nudge.example.com/', token)).toBe(
      `https://nudge.example.com/v1/track/${token}/open.gif`,
    );
    expect(trackUrl('https://nudge.example.com', token)).toBe(`https://nudge.example.com/v1/track/${token}`);
  });

  it('an open or click token is never an unsubscribe token, and an unsubscribe token never a tracking one', () => {
    for (const target of [OPEN, CLICK])
      expect(verifyUnsubscribeToken(SECRET, signTrackToken(SECRET, target))).toBeUndefined();
    const unsubscribe = signUnsubscribeToken(SECRET, {
      user_id: 'ada',
      message_id: 'weekly-tip',
      channel: 'email',
    });
    expect(verifyUnsubscribeToken(SECRET, unsubscribe)).toBeDefined();
    expect(verifyTrackToken(SECRET, unsubscribe)).toBeUndefined();
    // Any `kind` at all, even one no token has, makes it no unsubscribe token.
    expect(
      verifyUnsubscribeToken(
        SECRET,
        signFields(SECRET, {
          kind: 'unsubscribe',
          user_id: 'ada',
          message_id: 'weekly-tip',
          channel: 'email',
        }),
      ),
    ).toBeUndefined();
  });

  it('refuses another secret, an altered payload, an unknown kind and a payload without its send', () => {
    const token = signTrackToken(SECRET, OPEN);
    const [, signature = ''] = token.split('.');
    const bob = Buffer.from(JSON.stringify({ ...OPEN, user_id: 'bob' })).toString('base64url');
    expect(verifyTrackToken(newUnsubscribeSecret(), token)).toBeUndefined();
    expect(verifyTrackToken(SECRET, `${bob}.${signature}`)).toBeUndefined();
    const without = (key: keyof TrackTarget) =>
      Object.fromEntries(Object.entries(OPEN).filter(([k]) => k !== key));
    for (const fields of [
      { ...OPEN, kind: 'unsubscribe' },
      without('decision_id'),
      without('at'),
      { ...OPEN, at: -1 },
      { ...OPEN, at: '1793600000000' },
      { ...OPEN, channel: 'pigeon' },
      { ...OPEN, message_id: 'no spaces' },
    ])
      expect(verifyTrackToken(SECRET, signFields(SECRET, fields)), JSON.stringify(fields)).toBeUndefined();
  });
});
