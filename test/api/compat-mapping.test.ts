import { describe, expect, it } from 'vitest';
import { flatten } from '../../api/compat/flatten.ts';
import { entryOfIntercomEvent } from '../../api/compat/intercom-events.ts';
import { entryOfSegmentCall } from '../../api/compat/segment-calls.ts';

describe('flatten', () => {
  it('makes nested objects dotted keys, in the order sent, and refuses arrays and clashes naming the path', () => {
    expect(flatten({ a: 1, product: { id: 'p', price: { amount: 5 } }, z: null }, 'properties')).toEqual({
      flat: { a: 1, 'product.id': 'p', 'product.price.amount': 5, z: null },
    });
    expect(flatten({ items: { list: [1] } }, 'properties')).toEqual({
      problem:
        'properties.items.list: arrays cannot be mapped to flat keys; send the items as keys of their own',
    });
    expect(flatten({ 'a.b': 1, a: { b: 2 } }, 'traits')).toEqual({
      problem: 'traits.a.b: two keys flatten to the same name',
    });
    expect(flatten(undefined, 'traits')).toEqual({ flat: {} });
    expect(flatten('x', 'traits')).toEqual({ problem: 'traits: must be an object' });
  });
});

describe('a Segment call as an entry', () => {
  it('maps track: messageId, userId, event, properties, context.page.url, timestamp', () => {
    expect(
      entryOfSegmentCall({
        type: 'track',
        messageId: 'm1',
        userId: 'u1',
        anonymousId: 'anon',
        event: 'Order Completed',
        properties: { product: { id: 'p1' } },
        context: { page: { url: 'https://a.test/x', path: '/x' }, userAgent: 'ua', library: { name: 'x' } },
        timestamp: '2026-12-01T09:00:00.000Z',
      }),
    ).toEqual({
      entry: {
        type: 'track',
        id: 'm1',
        user_id: 'u1',
        name: 'Order Completed',
        created_at: Date.UTC(2026, 11, 1, 9),
        metadata: { 'product.id': 'p1' },
        context: { url: 'https://a.test/x', path: '/x', user_agent: 'ua' },
      },
    });
  });

  it('maps identify (traits → attributes), takes anonymousId without userId, and the route type without a type', () => {
    expect(
      entryOfSegmentCall({ anonymousId: 'a1', traits: { address: { city: 'Oslo' } } }, 'identify'),
    ).toEqual({
      entry: { type: 'identify', user_id: 'a1', attributes: { 'address.city': 'Oslo' } },
    });
  });

  it('refuses what it cannot map, saying why', () => {
    expect(entryOfSegmentCall({ type: 'page', userId: 'u' })).toEqual({
      problem: 'type: "page" calls are not taken: Nudge maps track and identify',
    });
    expect(entryOfSegmentCall({ type: 'track', event: 'e' })).toEqual({
      problem: 'userId or anonymousId: one is required, a string',
    });
    expect(entryOfSegmentCall({ type: 'track', userId: 'u', event: 'e', timestamp: 'soon' })).toMatchObject({
      problem: expect.stringMatching(/^timestamp: /) as string,
    });
  });
});

describe('an Intercom event as an entry', () => {
  const event = {
    event_name: 'invited-friend',
    created_at: 1_700_000_000,
    user_id: 'u1',
    metadata: { price: { amount: 1, currency: 'eur' } },
  };

  it('maps the name, user, seconds and rich metadata, with an id from user, name and time', () => {
    const mapped = entryOfIntercomEvent(event);
    expect(mapped).toMatchObject({
      entry: {
        type: 'track',
        user_id: 'u1',
        name: 'invited-friend',
        created_at: 1_700_000_000_000,
        metadata: { 'price.amount': 1, 'price.currency': 'eur' },
      },
    });
    // The same event again is the same entry; another time is another one.
    expect(entryOfIntercomEvent(event)).toEqual(mapped);
    expect(entryOfIntercomEvent({ ...event, created_at: 1_700_000_001 })).not.toEqual(mapped);
    expect(entryOfIntercomEvent({ ...event, user_id: undefined, email: 'a@b.test' })).toMatchObject({
      entry: { user_id: 'a@b.test' },
    });
  });

  it('refuses an event without its name, time or user', () => {
    expect(entryOfIntercomEvent({ ...event, event_name: '' })).toEqual({
      problem: 'event_name: required, a string',
    });
    expect(entryOfIntercomEvent({ ...event, created_at: '2026' })).toMatchObject({
      problem: expect.stringMatching(/^created_at/) as string,
    });
    expect(entryOfIntercomEvent({ ...event, user_id: undefined })).toEqual({
      problem: 'user_id, id or email: one is required',
    });
  });
});
