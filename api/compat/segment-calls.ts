import { isRecord } from './records.ts';
import { flatten } from './flatten.ts';

/** A call mapped onto a Nudge entry (checked by the ingest schema next), or why it cannot be. */
export type MappedCall = { readonly entry: Record<string, unknown> } | { readonly problem: string };

/** What of the Segment spec's `context` becomes Nudge's flat `context`. */
const CONTEXT_FIELDS: readonly (readonly [string, (context: Record<string, unknown>) => unknown])[] = [
  ['url', (c) => page(c)['url']],
  ['path', (c) => page(c)['path']],
  ['referrer', (c) => page(c)['referrer']],
  ['title', (c) => page(c)['title']],
  ['ip', (c) => c['ip']],
  ['user_agent', (c) => c['userAgent']],
  ['locale', (c) => c['locale']],
  ['timezone', (c) => c['timezone']],
];

const page = (context: Record<string, unknown>) => (isRecord(context['page']) ? context['page'] : {});

/**
 * One call of the Segment tracking spec (`track` or `identify`, alone or in a batch) as a Nudge
 * entry: `messageId` → `id` (so a client's retry is one entry), `userId` (else `anonymousId`) →
 * `user_id`, `event` → `name`, `properties` → `metadata` and `traits` → `attributes` (nested
 * objects as dotted keys), `context.page.url` → `context.url` (and the few context fields above),
 * `timestamp` → `created_at`. `received_at` is Nudge's, as for every entry. Other call types
 * (page, screen, group, alias) are refused, naming the type: nothing is dropped unsaid.
 */
export function entryOfSegmentCall(call: unknown, defaultType?: 'track' | 'identify'): MappedCall {
  if (!isRecord(call)) return { problem: 'a call is an object' };
  const type = call['type'] ?? defaultType;
  if (type !== 'track' && type !== 'identify')
    return {
      problem: `type: ${JSON.stringify(type ?? null).slice(0, 40)} calls are not taken: Nudge maps track and identify`,
    };
  const user = call['userId'] ?? call['anonymousId'];
  if (typeof user !== 'string' && typeof user !== 'number')
    return { problem: 'userId or anonymousId: one is required, a string' };
  const created = createdAt(call['timestamp']);
  if (typeof created === 'string') return { problem: created };
  const id = call['messageId'];
  const common = {
    ...(typeof id === 'string' ? { id } : {}),
    user_id: String(user),
  };
  if (type === 'identify') {
    const traits = flatten(call['traits'], 'traits');
    if ('problem' in traits) return traits;
    return { entry: { type, ...common, attributes: traits.flat } };
  }
  const properties = flatten(call['properties'], 'properties');
  if ('problem' in properties) return properties;
  const context = isRecord(call['context']) ? call['context'] : {};
  const flatContext = Object.fromEntries(
    CONTEXT_FIELDS.flatMap(([key, read]) => {
      const value = read(context);
      return typeof value === 'string' || typeof value === 'number' ? [[key, value]] : [];
    }),
  );
  return {
    entry: {
      type,
      ...common,
      name: call['event'],
      ...(created === undefined ? {} : { created_at: created }),
      metadata: properties.flat,
      context: flatContext,
    },
  };
}

/** `timestamp` (ISO 8601, as the spec sends it) in ms, or the problem with it. */
function createdAt(timestamp: unknown): number | string | undefined {
  if (timestamp === undefined || timestamp === null) return undefined;
  const ms = typeof timestamp === 'string' ? Date.parse(timestamp) : Number.NaN;
  return Number.isNaN(ms) || ms < 0
    ? 'timestamp: an ISO 8601 date and time, such as 2026-12-01T09:00:00Z'
    : ms;
}
