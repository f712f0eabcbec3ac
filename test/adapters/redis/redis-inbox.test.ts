import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { RedisInbox } from '../../../pipeline/adapters/redis/redis-inbox.ts';
import { loadConfig } from '../../../pipeline/config/load-config.ts';
import { Namespace } from '../../../pipeline/namespace.ts';
import type { InboxMessage } from '../../../pipeline/ports/inbox.ts';
import { INBOX_SIZE } from '../../../pipeline/ports/inbox.ts';

const redis = new Redis(loadConfig(process.env).redisUrl);
const ns = new Namespace(`t_${randomUUID().replaceAll('-', '').slice(0, 20)}`);
const inbox = new RedisInbox(redis, ns);

afterAll(async () => {
  const keys = await redis.keys(`${ns.name}:*`);
  if (keys.length > 0) await redis.del(...keys);
  await redis.quit();
});

/** A fresh user per test: the tests share one namespace. */
const someone = () => `u-${randomUUID()}`;

const message = (decision_id: string, at = 1_000): InboxMessage => ({
  decision_id,
  message_id: 'welcome',
  channel: 'banner',
  subject: null,
  body: 'Hi "there" / ünïcödé ✓ {}',
  at,
});

describe('RedisInbox', () => {
  it('adds a decision once: a repeat changes nothing and answers the entry as stored', async () => {
    const user = someone();
    const first = await inbox.add(user, message('d1'));
    expect(first).toEqual({
      added: true,
      entry: { ...message('d1'), seq: 1, seen: false, dismissed: false },
    });
    await inbox.mark(user, 'd1', 'seen');
    const again = await inbox.add(user, { ...message('d1'), body: 'changed' });
    expect(again).toEqual({ added: false, entry: { ...first.entry, seen: true } });
    expect(await inbox.list(user)).toEqual([again.entry]);
  });

  it('keeps only the message fields, exactly as given', async () => {
    const user = someone();
    const extra = { ...message('d1'), subject: 'Big news', at: 1_793_610_000_123, user_id: user };
    const { entry } = await inbox.add(user, extra);
    expect(entry).toEqual({
      ...message('d1'),
      subject: 'Big news',
      at: 1_793_610_000_123,
      seq: 1,
      seen: false,
      dismissed: false,
    });
    expect(Object.keys(entry)).not.toContain('user_id');
  });

  it('lists newest first, after a seq and up to a limit', async () => {
    const user = someone();
    for (const id of ['d1', 'd2', 'd3', 'd4']) await inbox.add(user, message(id));
    const seqs = async (options?: { afterSeq?: number; limit?: number }) =>
      (await inbox.list(user, options)).map((entry) => [entry.seq, entry.decision_id]);
    expect(await seqs()).toEqual([
      [4, 'd4'],
      [3, 'd3'],
      [2, 'd2'],
      [1, 'd1'],
    ]);
    expect(await seqs({ afterSeq: 2 })).toEqual([
      [4, 'd4'],
      [3, 'd3'],
    ]);
    expect(await seqs({ afterSeq: 4 })).toEqual([]);
    expect(await seqs({ limit: 2 })).toEqual([
      [4, 'd4'],
      [3, 'd3'],
    ]);
    expect(await inbox.list(someone())).toEqual([]);
  });

  it(`keeps the newest ${INBOX_SIZE}, and never hands out a seq twice`, async () => {
    const user = someone();
    for (let i = 1; i <= INBOX_SIZE + 5; i++) await inbox.add(user, message(`d${i}`));
    const entries = await inbox.list(user);
    expect(entries).toHaveLength(INBOX_SIZE);
    expect(entries[0]?.seq).toBe(INBOX_SIZE + 5);
    expect(entries.at(-1)).toMatchObject({ seq: 6, decision_id: 'd6' });
    expect(await inbox.mark(user, 'd5', 'seen')).toBeUndefined(); // fell off the end
    expect((await inbox.add(user, message('d106'))).entry.seq).toBe(INBOX_SIZE + 6);
    expect(await redis.hlen(ns.inboxKey(user, 'items'))).toBe(INBOX_SIZE);
  });

  it('marks: the first time of each action is told, dismissed and clicked imply seen', async () => {
    const user = someone();
    await inbox.add(user, message('d1'));
    await inbox.add(user, message('d2'));

    const clicked = await inbox.mark(user, 'd1', 'clicked');
    expect(clicked).toEqual({
      first: true,
      entry: { ...message('d1'), seq: 1, seen: true, dismissed: false },
    });
    expect(await inbox.mark(user, 'd1', 'clicked')).toEqual({ ...clicked, first: false });
    // Seen was implied by the click, never marked itself: its first mark is still the first.
    expect((await inbox.mark(user, 'd1', 'seen'))?.first).toBe(true);
    expect((await inbox.mark(user, 'd1', 'seen'))?.first).toBe(false);

    const dismissed = await inbox.mark(user, 'd2', 'dismissed');
    expect(dismissed).toEqual({
      first: true,
      entry: { ...message('d2'), seq: 2, seen: true, dismissed: true },
    });
    expect((await inbox.mark(user, 'd2', 'dismissed'))?.first).toBe(false);
    expect((await inbox.list(user)).map((e) => [e.decision_id, e.seen, e.dismissed])).toEqual([
      ['d2', true, true],
      ['d1', true, false],
    ]);
  });

  it('answers undefined for a decision not in the inbox', async () => {
    const user = someone();
    expect(await inbox.mark(user, 'd1', 'seen')).toBeUndefined();
    await inbox.add(user, message('d1'));
    expect(await inbox.mark(user, 'nope', 'clicked')).toBeUndefined();
    expect(await inbox.mark(someone(), 'd1', 'seen')).toBeUndefined();
  });

  it('takes any user id, and keeps each user apart', async () => {
    const odd = `{}}{:%${randomUUID()}:items:{x}`;
    const plain = someone();
    await inbox.add(odd, message('d1'));
    await inbox.add(odd, message('d2'));
    await inbox.add(plain, message('d1', 2_000));
    expect((await inbox.list(odd)).map((e) => [e.seq, e.decision_id])).toEqual([
      [2, 'd2'],
      [1, 'd1'],
    ]);
    expect(await inbox.list(plain)).toEqual([
      { ...message('d1', 2_000), seq: 1, seen: false, dismissed: false },
    ]);
    await inbox.mark(odd, 'd1', 'dismissed');
    expect((await inbox.list(plain))[0]?.dismissed).toBe(false);
    // One hash tag per user: all of a user's keys land in one Redis Cluster slot.
    const tags = (['items', 'order', 'seq'] as const).map(
      (part) => /\{([0-9a-f]{16})\}/.exec(ns.inboxKey(odd, part))?.[1],
    );
    expect(new Set(tags).size).toBe(1);
    expect(tags[0]).toBeDefined();
  });

  it('lives 30 days after the last add, its counter longer', async () => {
    const user = someone();
    await inbox.add(user, message('d1'));
    const day = 86_400_000;
    expect(await redis.pttl(ns.inboxKey(user, 'items'))).toBeGreaterThan(29 * day);
    expect(await redis.pttl(ns.inboxKey(user, 'order'))).toBeLessThanOrEqual(30 * day);
    expect(await redis.pttl(ns.inboxKey(user, 'seq'))).toBeGreaterThan(300 * day);
  });
});
