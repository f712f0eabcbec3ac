import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { RedisSentMarks } from '../../../pipeline/adapters/redis/redis-sent-marks.ts';
import { loadConfig } from '../../../pipeline/config/load-config.ts';
import { Namespace } from '../../../pipeline/namespace.ts';
import type { SendResult } from '../../../pipeline/ports/channel.ts';
import type { Delivery } from '../../../pipeline/ports/delivery.ts';
import type { SentMarks } from '../../../pipeline/ports/sent-marks.ts';
import { markedSend } from '../../../pipeline/runtime/marked-send.ts';

const redis = new Redis(loadConfig(process.env).redisUrl);
const ns = new Namespace(`t_${randomUUID().replaceAll('-', '').slice(0, 20)}`);
const marks = new RedisSentMarks(redis, ns, 'email');

afterAll(async () => {
  const keys = await redis.keys(`${ns.name}:*`);
  if (keys.length > 0) await redis.del(...keys);
  await redis.quit();
});

const delivery = (): Delivery => ({
  decision_id: `welcome:${randomUUID()}`,
  message_id: 'welcome',
  message_version: 1,
  user_id: 'ada',
  channel: 'email',
  at: 1_000,
  subject: 'Hi',
  body: 'Hello',
});

/** A channel answering `results` in turn, counting its calls. */
function channel(...results: SendResult[]) {
  const calls: string[] = [];
  const send = (d: Delivery) => {
    calls.push(d.decision_id);
    return Promise.resolve(results[Math.min(calls.length - 1, results.length - 1)] as SendResult);
  };
  return { send, calls };
}

describe('RedisSentMarks and markedSend', () => {
  it('sends an unmarked delivery and marks it with the status it was accepted with', async () => {
    const d = delivery();
    const { send, calls } = channel({ result: 'delivered', status: 250 });
    expect(await markedSend(send, marks)(d)).toEqual({ result: 'delivered', status: 250 });
    expect(calls).toEqual([d.decision_id]);
    expect(await marks.accepted(d.decision_id)).toBe(250);
    expect(await redis.pttl(ns.sentMarkKey('email', d.decision_id))).toBeGreaterThan(3_500_000);
  });

  it('does not send a marked delivery again: it is delivered, with the marked status', async () => {
    const d = delivery();
    const { send, calls } = channel({ result: 'delivered', status: 250 });
    const marked = markedSend(send, marks);
    await marked(d);
    expect(await marked(d)).toEqual({ result: 'delivered', status: 250 });
    expect(calls).toHaveLength(1);
  });

  it('marks no failure: a transient one is tried again, and a retry that goes through is marked', async () => {
    const d = delivery();
    const { send, calls } = channel(
      { result: 'transient', status: 451, reason: 'try again later' },
      { result: 'delivered', status: 250 },
    );
    const marked = markedSend(send, marks);
    expect(await marked(d)).toMatchObject({ result: 'transient' });
    expect(await marks.accepted(d.decision_id)).toBeUndefined();
    expect(await marked(d)).toEqual({ result: 'delivered', status: 250 });
    expect(calls).toHaveLength(2);
    const refused = delivery();
    await markedSend(
      channel({ result: 'permanent', status: 550, reason: 'no such mailbox' }).send,
      marks,
    )(refused);
    expect(await marks.accepted(refused.decision_id)).toBeUndefined();
  });

  it('keeps marks apart by namespace and channel, and forgets them after their time', async () => {
    const d = delivery();
    await marks.mark(d.decision_id, 250);
    expect(await new RedisSentMarks(redis, ns, 'sms').accepted(d.decision_id)).toBeUndefined();
    const other = new Namespace(`t_${randomUUID().replaceAll('-', '').slice(0, 20)}`);
    expect(await new RedisSentMarks(redis, other, 'email').accepted(d.decision_id)).toBeUndefined();
    const brief = new RedisSentMarks(redis, ns, 'email', 50);
    const e = delivery();
    await brief.mark(e.decision_id, 250);
    expect(await brief.accepted(e.decision_id)).toBe(250);
    await sleep(120);
    expect(await brief.accepted(e.decision_id)).toBeUndefined();
  });

  it('reports a delivery that went as delivered even when its mark cannot be written', async () => {
    const broken: SentMarks = {
      accepted: () => Promise.resolve(undefined),
      mark: () => Promise.reject(new Error('Redis is gone')),
    };
    const { send } = channel({ result: 'delivered', status: 250 });
    expect(await markedSend(send, broken)(delivery())).toEqual({ result: 'delivered', status: 250 });
  });

  it('leaves a delivery to come again when it cannot tell whether it was marked', async () => {
    const broken: SentMarks = {
      accepted: () => Promise.reject(new Error('Redis is gone')),
      mark: () => Promise.resolve(),
    };
    const { send, calls } = channel({ result: 'delivered', status: 250 });
    await expect(markedSend(send, broken)(delivery())).rejects.toThrow('Redis is gone');
    expect(calls).toEqual([]);
  });
});
