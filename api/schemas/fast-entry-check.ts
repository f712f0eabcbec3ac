import type { ApiEntry } from './ingest-schemas.ts';
import { LIMITS } from './ingest-schemas.ts';

const TRACK_KEYS = new Set(['type', 'id', 'name', 'user_id', 'created_at', 'metadata', 'context']);
const IDENTIFY_KEYS = new Set(['type', 'id', 'user_id', 'attributes']);

/**
 * True when `json` is an entry `ApiEntrySchema` accepts, checked without zod: a batch of 1,000 is
 * checked entry by entry, and zod was most of a batch's cost. It accepts a subset of what the
 * schema accepts, giving the same entry (a property test holds it so); anything it refuses goes
 * through the schema, which accepts it or names the problem.
 */
export function isWellFormedApiEntry(json: unknown): json is ApiEntry {
  if (!isObject(json)) return false;
  const entry = json as Record<string, unknown>;
  const type = entry['type'];
  const allowed = type === 'track' ? TRACK_KEYS : type === 'identify' ? IDENTIFY_KEYS : undefined;
  if (allowed === undefined) return false;
  for (const key in entry) if (!allowed.has(key)) return false;
  if (!Object.hasOwn(entry, 'type')) return false;
  if (!(entry['id'] === undefined || isId(entry['id'])) || !isId(entry['user_id'])) return false;
  if (type === 'identify') return isFlat(entry['attributes']);
  return (
    isId(entry['name']) &&
    (entry['created_at'] === undefined || isTimestamp(entry['created_at'])) &&
    (entry['metadata'] === undefined || isFlat(entry['metadata'])) &&
    (entry['context'] === undefined || isFlat(entry['context']))
  );
}

const isObject = (value: unknown): value is object =>
  typeof value === 'object' &&
  value !== null &&
  !Array.isArray(value) &&
  Object.getPrototypeOf(value) === Object.prototype;
const isId = (value: unknown) =>
  typeof value === 'string' && value.length > 0 && value.length <= LIMITS.idLength;
const isTimestamp = (value: unknown) => Number.isSafeInteger(value) && (value as number) >= 0;

function isFlat(value: unknown): boolean {
  if (!isObject(value)) return false;
  let keys = 0;
  for (const key in value) {
    // zod drops a "__proto__" key where this would keep it: leave such an object to zod.
    if (++keys > LIMITS.keys || key.length > LIMITS.keyLength || key === '__proto__') return false;
    const item = (value as Record<string, unknown>)[key];
    if (item === null || typeof item === 'boolean') continue;
    if (typeof item === 'string') {
      if (item.length > LIMITS.stringLength) return false;
      continue;
    }
    if (typeof item !== 'number' || !Number.isFinite(item)) return false;
  }
  return true;
}
