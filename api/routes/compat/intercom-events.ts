import { createHash } from 'node:crypto';
import { valueAt } from '../../../pipeline/json-in-sent-order.ts';
import { flatten } from './flatten.ts';
import type { MappedCall } from './segment-calls.ts';
import { isRecord } from './records.ts';

/**
 * An event of Intercom's Events API (`POST /events`) as a Nudge entry: `event_name` → `name`,
 * `user_id` (else `id`, else `email`) → `user_id`, `created_at` (Unix seconds) → `created_at` (ms),
 * `metadata` → `metadata`, with Intercom's rich values as dotted keys: a rich link
 * `{"url", "value"}` becomes `<key>.url` and `<key>.value`, a monetary amount `{"amount",
 * "currency"}` becomes `<key>.amount` (cents) and `<key>.currency`. Intercom identifies an event
 * by its user, name and `created_at` and ignores a repeat; so does Nudge: the entry's id is a
 * digest of the three, and a client's retry is one entry. `sent`: the body read from the request's
 * text in the order sent, for metadata whose usable keys JavaScript may have moved (`flatten`).
 */
export function entryOfIntercomEvent(body: unknown, sent?: () => unknown): MappedCall {
  if (!isRecord(body)) return { problem: 'the body is an object' };
  const name = body['event_name'];
  if (typeof name !== 'string' || name === '') return { problem: 'event_name: required, a string' };
  const created = body['created_at'];
  if (typeof created !== 'number' || !Number.isInteger(created) || created < 0)
    return { problem: 'created_at: required, an integer of seconds since the epoch (UTC)' };
  const user = [body['user_id'], body['id'], body['email']].find(
    (candidate) => typeof candidate === 'string' && candidate !== '',
  );
  if (typeof user !== 'string') return { problem: 'user_id, id or email: one is required' };
  const metadata = flatten(
    body['metadata'],
    'metadata',
    undefined,
    sent && (() => valueAt(sent(), ['metadata'])),
  );
  if ('problem' in metadata) return metadata;
  const id = `intercom:${createHash('sha256')
    .update(JSON.stringify([user, name, created]))
    .digest('base64url')}`;
  return {
    entry: { type: 'track', id, user_id: user, name, created_at: created * 1000, metadata: metadata.flat },
  };
}
