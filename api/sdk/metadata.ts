type Scalar = string | number | boolean | null;
type Flat = Record<string, Scalar>;

/**
 * An event's metadata as a page gives it to `Nudge.track`. Only the first 20 keys, in the order
 * sent, are usable in rules and templates. "The order sent" is the order the SDK writes them in:
 * - an object: JavaScript's own order, which lists integer-like keys (`"0"`, `"17"`, `"99"`) first,
 *   whatever order the object literal had: by the time the SDK sees an object, that order is gone;
 * - a `Map`, or an array of `[key, value]` pairs: exactly their order. Use one of these when an
 *   event has more than 20 keys and some are integer-like.
 */
export type MetadataInput =
  Readonly<Record<string, Scalar>> | ReadonlyMap<string, Scalar> | readonly (readonly [string, Scalar])[];

/**
 * The JSON text of metadata given as a `Map` or as pairs, in their order (a key given twice keeps
 * its first place and its last value, as a JSON reader would); a pair whose value JSON cannot
 * write (a function, `undefined`) is left out, as `JSON.stringify` leaves such a member out. The
 * API refuses what is not a scalar, naming the key. Undefined for anything else: an object is
 * sent as `JSON.stringify` writes it, and what is not metadata is refused by the caller.
 */
export function orderedMetadataJson(metadata: unknown): string | undefined {
  const pairs = pairsOf(metadata);
  if (pairs === undefined) return undefined;
  const values = new Map<string, string>();
  for (const [key, value] of pairs) {
    const json = JSON.stringify(value) as string | undefined;
    if (json === undefined) values.delete(key);
    else values.set(key, json);
  }
  const members: string[] = [];
  for (const [key, json] of values) members.push(`${JSON.stringify(key)}:${json}`);
  return `{${members.join(',')}}`;
}

/** The body of `POST /v1/client/events` as the SDK sends it. */
export type TrackBody = {
  readonly id: string;
  readonly name: string;
  readonly metadata?: MetadataInput;
  readonly context: Flat;
};

/**
 * The JSON text of a track's body: `JSON.stringify` of it, except metadata given as a `Map` or as
 * pairs, written in their order (`JSON.stringify` of an object would list integer-like keys first).
 */
export function trackBody(body: TrackBody): string {
  const ordered = orderedMetadataJson(body.metadata);
  if (ordered === undefined) return JSON.stringify(body);
  const { id, name, context } = body;
  return `{"id":${JSON.stringify(id)},"name":${JSON.stringify(name)},"metadata":${ordered},"context":${JSON.stringify(context)}}`;
}

/** True when `metadata` is one of the forms `track` takes (see `MetadataInput`). */
export const isMetadata = (metadata: unknown): metadata is MetadataInput =>
  Array.isArray(metadata)
    ? pairsOf(metadata) !== undefined
    : typeof metadata === 'object' && metadata !== null;

function pairsOf(metadata: unknown): (readonly [string, unknown])[] | undefined {
  if (metadata instanceof Map)
    return [...(metadata as Map<unknown, unknown>)].map(([key, value]) => [String(key), value] as const);
  if (!Array.isArray(metadata)) return undefined;
  const pairs: (readonly [string, unknown])[] = [];
  for (const pair of metadata as unknown[]) {
    if (!Array.isArray(pair) || pair.length !== 2 || typeof pair[0] !== 'string') return undefined;
    pairs.push([pair[0], pair[1]]);
  }
  return pairs;
}
