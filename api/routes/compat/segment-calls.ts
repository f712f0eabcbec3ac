import { valueAt } from '../../../pipeline/json-in-sent-order.ts';
import { LIMITS } from '../ingest/ingest.schemas.ts';
import { flatten } from './flatten.ts';
import { isRecord } from './records.ts';

/**
 * A call mapped onto a Nudge entry (checked by the ingest schema next), with what the mapping left
 * out; or why it cannot be mapped.
 */
export type MappedCall =
  | { readonly entry: Record<string, unknown>; readonly warnings?: readonly string[] }
  | { readonly problem: string };

/** The call types of the Segment spec that become entries. */
export const SEGMENT_TYPES = ['track', 'identify', 'page', 'screen', 'group', 'alias'] as const;
export type SegmentType = (typeof SEGMENT_TYPES)[number];

/** What of the spec's `context` (and of a page call's properties) becomes Nudge's flat `context`. */
const PAGE_FIELDS = ['url', 'path', 'referrer', 'title', 'search'] as const;
const CONTEXT_FIELDS: readonly (readonly [string, (context: Record<string, unknown>) => unknown])[] = [
  ['ip', (c) => c['ip']],
  ['user_agent', (c) => c['userAgent']],
  ['locale', (c) => c['locale']],
  ['timezone', (c) => c['timezone']],
];

const record = (value: unknown): Record<string, unknown> => (isRecord(value) ? value : {});

/**
 * One call of the Segment tracking spec, alone or in a batch, as a Nudge entry (README, "Migrating
 * from Segment or Intercom"): `messageId` → `id` (so a client's retry is one entry), `userId` (else
 * `anonymousId`) → `user_id`, `timestamp` → `created_at`, and by type:
 * - track: `event` → `name`, `properties` → `metadata`;
 * - page: a track named `Viewed <category> <name> Page`, or `Loaded a Page` without a name (the
 *   names Segment's own destinations give page views); screen likewise with `Screen`;
 * - identify: `traits` → `attributes`; group: `groupId` → `group.id` and `traits` → `group.<trait>`
 *   attributes of the user;
 * - alias: refused, saying why (Nudge keys users by the id each call names).
 * Nested values become dotted keys, arrays their items' places (`products.0.price`); past the
 * ingest's key limit the rest are left out and named in a warning. `sent`: the same call read from
 * the request's text in the order sent (`parseInSentOrder`), asked for only when JavaScript may have
 * moved the usable keys of its properties (`flatten`).
 */
export function entryOfSegmentCall(
  call: unknown,
  defaultType?: SegmentType,
  sent?: () => unknown,
): MappedCall {
  if (!isRecord(call)) return { problem: 'a call is an object' };
  const type = call['type'] ?? defaultType;
  if (!SEGMENT_TYPES.includes(type as SegmentType))
    return {
      problem: `type: ${JSON.stringify(type ?? null).slice(0, 40)} is not a call of the Segment spec: use ${SEGMENT_TYPES.join(', ')}`,
    };
  if (type === 'alias')
    return {
      problem:
        'type: alias calls are not supported: Nudge keys a user by the id each call names, so send the user id you want on their calls',
    };
  const user = call['userId'] ?? call['anonymousId'];
  if (typeof user !== 'string' && typeof user !== 'number')
    return { problem: 'userId or anonymousId: one is required, a string' };
  const created = createdAt(call['timestamp']);
  if (typeof created === 'string') return { problem: created };
  const id = call['messageId'];
  const common = { ...(typeof id === 'string' ? { id } : {}), user_id: String(user) };
  if (type === 'identify' || type === 'group') return identifyEntry(call, type, common);
  const properties = flatten(
    call['properties'],
    'properties',
    LIMITS.keys,
    sent && (() => valueAt(sent(), ['properties'])),
  );
  if ('problem' in properties) return properties;
  return withWarnings(
    {
      type: 'track',
      ...common,
      name: type === 'track' ? call['event'] : viewName(call, type === 'page' ? 'Page' : 'Screen'),
      ...(created === undefined ? {} : { created_at: created }),
      metadata: properties.flat,
      context: contextOf(record(call['context']), type === 'page' ? record(call['properties']) : {}),
    },
    properties.dropped,
    'properties',
  );
}

function identifyEntry(
  call: Record<string, unknown>,
  type: 'identify' | 'group',
  common: { id?: string; user_id: string },
): MappedCall {
  if (type === 'group' && typeof call['groupId'] !== 'string' && typeof call['groupId'] !== 'number')
    return { problem: 'groupId: required for a group call, a string' };
  const traits =
    type === 'identify'
      ? flatten(call['traits'], 'traits', LIMITS.keys)
      : flatten({ group: { ...record(call['traits']), id: call['groupId'] } }, 'traits', LIMITS.keys);
  if ('problem' in traits) return traits;
  return withWarnings({ type: 'identify', ...common, attributes: traits.flat }, traits.dropped, 'traits');
}

/** `Viewed Docs Install Page` (category, name), `Viewed Install Page`, or `Loaded a Page`. */
function viewName(call: Record<string, unknown>, kind: 'Page' | 'Screen'): string {
  const words = [call['category'], call['name']].filter(
    (word): word is string => typeof word === 'string' && word !== '',
  );
  return words.length === 0 ? `Loaded a ${kind}` : `Viewed ${words.join(' ')} ${kind}`;
}

/** The page (a page call's properties first, then `context.page`) and the few context fields Nudge keeps. */
function contextOf(
  context: Record<string, unknown>,
  properties: Record<string, unknown>,
): Record<string, unknown> {
  const page = record(context['page']);
  const fields: [string, unknown][] = [
    ...PAGE_FIELDS.map((key): [string, unknown] => [key, properties[key] ?? page[key]]),
    ...CONTEXT_FIELDS.map(([key, read]): [string, unknown] => [key, read(context)]),
  ];
  return Object.fromEntries(
    fields.filter(([, value]) => typeof value === 'string' || typeof value === 'number'),
  );
}

function withWarnings(entry: Record<string, unknown>, dropped: readonly string[], where: string): MappedCall {
  if (dropped.length === 0) return { entry };
  return {
    entry,
    warnings: [
      `${where}: ${dropped.length} keys past the first ${LIMITS.keys} were left out: ${dropped.slice(0, 20).join(', ')}${dropped.length > 20 ? ', …' : ''}`,
    ],
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
