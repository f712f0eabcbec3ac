import { describe, expect, it } from 'vitest';
import type { Message } from '../../pipeline/core/message-schema.ts';
import { MessageSchema } from '../../pipeline/core/message-schema.ts';
import type { DeliveryOutcome } from '../../pipeline/ports/delivery.ts';
import type { HeldDelivery, HeldSend, HeldSends } from '../../pipeline/ports/held-sends.ts';
import { cancellation, HeldReleaser, RECHECK_MS } from '../../pipeline/runtime/held-releaser.ts';

const T = Date.UTC(2026, 11, 7, 23, 0);
const HOUR = 3_600_000;

const message = (fields: Partial<Message> = {}): Message => ({
  ...MessageSchema.parse({
    id: 'upload-ready',
    channel: 'webhook',
    state: 'live',
    live_since: T - HOUR,
    trigger: { event: 'upload_completed' },
    template: { body: 'ready' },
  }),
  ...fields,
});

const held = (deliverAt: number, id = 'e1'): HeldDelivery => ({
  decision_id: `upload-ready:${id}`,
  message_id: 'upload-ready',
  message_version: 1,
  user_id: 'u1',
  channel: 'webhook',
  at: T,
  deliver_at: deliverAt,
  subject: null,
  body: 'ready',
});

/** The held sends of one take, each recording how it was settled. */
function oneTake(deliveries: readonly HeldDelivery[]) {
  const settled = new Map<string, string>();
  const sends: HeldSend[] = deliveries.map((delivery) => ({
    delivery,
    ack: () => settled.set(delivery.decision_id, 'ack'),
    nak: (delayMs) => settled.set(delivery.decision_id, `nak ${delayMs}`),
  }));
  const source: HeldSends = {
    // eslint-disable-next-line @typescript-eslint/require-await -- an async iterable of what is at hand
    async *take() {
      yield* sends;
    },
  };
  return { source, settled };
}

function releaser(
  source: HeldSends,
  now: number,
  options: { inCatalog?: Message | undefined; recordFails?: boolean } = {},
) {
  const released: string[] = [];
  const recorded: DeliveryOutcome[] = [];
  const inCatalog = 'inCatalog' in options ? options.inCatalog : message();
  const work = new HeldReleaser({
    held: source,
    release: (delivery) => {
      released.push(delivery.decision_id);
      return Promise.resolve();
    },
    latest: () => Promise.resolve(inCatalog),
    record: (outcomes) => {
      if (options.recordFails === true) return Promise.reject(new Error('ClickHouse is down'));
      recorded.push(...outcomes);
      return Promise.resolve();
    },
    now: () => now,
    retryMs: 500,
  });
  return { work, released, recorded };
}

describe('the held sends releaser', () => {
  it('releases a send at its deliver_at, never a millisecond before; puts one not due back until it is', async () => {
    const due = T + 10 * HOUR;
    const early = oneTake([held(due)]);
    const before = releaser(early.source, due - 1);
    expect(await before.work.step()).toBe(0);
    expect(before.released).toEqual([]);
    expect(early.settled.get('upload-ready:e1')).toBe('nak 1');

    const onTime = oneTake([held(due)]);
    const at = releaser(onTime.source, due);
    expect(await at.work.step()).toBe(1);
    expect(at.released).toEqual(['upload-ready:e1']);
    expect(onTime.settled.get('upload-ready:e1')).toBe('ack');
  });

  it('puts a send due in ten hours back for an hour at most, to look at its message again', async () => {
    const { source, settled } = oneTake([held(T + 10 * HOUR)]);
    await releaser(source, T).work.step();
    expect(settled.get('upload-ready:e1')).toBe(`nak ${RECHECK_MS}`);
  });

  it('cancels a send whose message was paused, recorded as a delivery outcome, and releases nothing', async () => {
    const { source, settled } = oneTake([held(T + 10 * HOUR)]);
    const r = releaser(source, T + 10 * HOUR + 250, { inCatalog: message({ state: 'paused' }) });
    expect(await r.work.step()).toBe(1);
    expect(r.released).toEqual([]);
    expect(settled.get('upload-ready:e1')).toBe('ack');
    expect(r.recorded).toEqual([
      {
        decision_id: 'upload-ready:e1',
        channel: 'webhook',
        outcome: 'cancelled',
        attempts: 0,
        status: 0,
        reason: 'the message was paused before the send was due',
        latency_ms: 250,
        at: T + 10 * HOUR + 250,
      },
    ]);
  });

  it('keeps a cancellation to record again when the record fails: the send is put back, not acked', async () => {
    const { source, settled } = oneTake([held(T + HOUR)]);
    const r = releaser(source, T + HOUR, { inCatalog: message({ state: 'stopped' }), recordFails: true });
    expect(await r.work.step()).toBe(0);
    expect(settled.get('upload-ready:e1')).toBe('nak 500');
    expect(r.released).toEqual([]);
  });

  it.each([
    ['paused', message({ state: 'paused' }), 'the message was paused before the send was due'],
    ['stopped', message({ state: 'stopped' }), 'the message was stopped before the send was due'],
    [
      'back to draft',
      message({ state: 'draft' }),
      'the message was set back to draft before the send was due',
    ],
    ['gone from the catalog', undefined, 'the message is no longer in the catalog'],
    [
      'launched again after the entry',
      message({ live_since: T + 1 }),
      'the message was paused or stopped, then launched again, before the send was due',
    ],
    ['live since before the entry (edited since, say)', message({ version: 3, live_since: T }), undefined],
    ['live with no live_since', message({ live_since: null }), undefined],
  ])('cancellation when the message is %s', (_, inCatalog, reason) => {
    expect(cancellation(inCatalog, held(T + HOUR))).toBe(reason);
  });
});
