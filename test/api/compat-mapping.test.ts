import { describe, expect, it } from 'vitest';
import { flatten } from '../../api/routes/compat/flatten.ts';
import { entryOfIntercomEvent } from '../../api/routes/compat/intercom-events.ts';
import { entryOfSegmentCall } from '../../api/routes/compat/segment-calls.ts';

describe('flatten', () => {
  it('makes nested objects dotted keys and arrays their places, in the order sent, and refuses clashes naming the path', () => {
    expect(flatten({ a: 1, product: { id: 'p', price: { amount: 5 } }, z: null }, 'properties')).toEqual({
      flat: { a: 1, 'product.id': 'p', 'product.price.amount': 5, z: null },
      dropped: [],
    });
    expect(
      flatten(
        {
          total: 30,
          products: [
            { product_id: 'p1', price: 10 },
            { product_id: 'p2', price: 20 },
          ],
          tags: ['a', 'b'],
        },
        'properties',
      ),
    ).toEqual({
      flat: {
        total: 30,
        'products.0.product_id': 'p1',
        'products.0.price': 10,
        'products.1.product_id': 'p2',
        'products.1.price': 20,
        'tags.0': 'a',
        'tags.1': 'b',
      },
      dropped: [],
    });
    expect(flatten({ 'a.b': 1, a: { b: 2 } }, 'traits')).toEqual({
      problem: 'traits.a.b: two keys flatten to the same name',
    });
    expect(flatten(undefined, 'traits')).toEqual({ flat: {}, dropped: [] });
    expect(flatten('x', 'traits')).toEqual({ problem: 'traits: must be an object' });
  });

  it('keeps the first keys sent up to the budget, and names the ones left out', () => {
    expect(flatten({ total: 3, items: [{ a: 1, b: 2 }, { a: 3 }] }, 'properties', 3)).toEqual({
      flat: { total: 3, 'items.0.a': 1, 'items.0.b': 2 },
      dropped: ['items.1.a'],
    });
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

  it('maps page and screen calls to track entries named as Segment names page views, with the page as context', () => {
    expect(
      entryOfSegmentCall({
        type: 'page',
        messageId: 'p1',
        userId: 'u1',
        name: 'Pricing',
        properties: {
          url: 'https://a.test/pricing?x=1',
          path: '/pricing',
          title: 'Pricing',
          referrer: 'https://b.test/',
        },
        context: { page: { url: 'https://ignored.test/' }, locale: 'en-GB' },
      }),
    ).toEqual({
      entry: {
        type: 'track',
        id: 'p1',
        user_id: 'u1',
        name: 'Viewed Pricing Page',
        metadata: {
          url: 'https://a.test/pricing?x=1',
          path: '/pricing',
          title: 'Pricing',
          referrer: 'https://b.test/',
        },
        context: {
          url: 'https://a.test/pricing?x=1',
          path: '/pricing',
          referrer: 'https://b.test/',
          title: 'Pricing',
          locale: 'en-GB',
        },
      },
    });
    expect(
      entryOfSegmentCall({ type: 'page', userId: 'u1', category: 'Docs', name: 'Install' }),
    ).toMatchObject({
      entry: { name: 'Viewed Docs Install Page' },
    });
    expect(
      entryOfSegmentCall({ userId: 'u1', context: { page: { url: 'https://a.test/' } } }, 'page'),
    ).toMatchObject({
      entry: { name: 'Loaded a Page', context: { url: 'https://a.test/' } },
    });
    expect(entryOfSegmentCall({ type: 'screen', userId: 'u1', name: 'Home' })).toMatchObject({
      entry: { type: 'track', name: 'Viewed Home Screen' },
    });
  });

  it('maps a group call to attributes of the user under group.', () => {
    expect(
      entryOfSegmentCall({
        type: 'group',
        userId: 'u1',
        groupId: 'acme',
        traits: { name: 'Acme', plan: { tier: 'pro' } },
      }),
    ).toEqual({
      entry: {
        type: 'identify',
        user_id: 'u1',
        attributes: { 'group.name': 'Acme', 'group.plan.tier': 'pro', 'group.id': 'acme' },
      },
    });
    expect(entryOfSegmentCall({ type: 'group', userId: 'u1' })).toEqual({
      problem: 'groupId: required for a group call, a string',
    });
  });

  it("flattens an order's products, and past the key limit names what it left out", () => {
    const products = Array.from({ length: 30 }, (_, i) => ({
      product_id: `p${i}`,
      price: i,
      quantity: 1,
      sku: `s${i}`,
    }));
    const mapped = entryOfSegmentCall({
      type: 'track',
      userId: 'u1',
      event: 'Order Completed',
      properties: { order_id: 'o1', total: 99, products },
    });
    if (!('entry' in mapped)) throw new Error(mapped.problem);
    const metadata = mapped.entry['metadata'] as Record<string, unknown>;
    expect(Object.keys(metadata)).toHaveLength(100);
    expect(Object.keys(metadata).slice(0, 4)).toEqual([
      'order_id',
      'total',
      'products.0.product_id',
      'products.0.price',
    ]);
    expect(mapped.warnings).toEqual([
      expect.stringMatching(
        /^properties: 22 keys past the first 100 were left out: products\.24\.quantity, products\.24\.sku, /,
      ),
    ]);
  });

  it('refuses what it cannot map, saying why', () => {
    expect(entryOfSegmentCall({ type: 'alias', userId: 'u', previousId: 'anon' })).toEqual({
      problem:
        'type: alias calls are not supported: Nudge keys a user by the id each call names, so send the user id you want on their calls',
    });
    expect(entryOfSegmentCall({ type: 'click', userId: 'u' })).toEqual({
      problem:
        'type: "click" is not a call of the Segment spec: use track, identify, page, screen, group, alias',
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
