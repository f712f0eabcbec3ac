/**
 * The order a flat object's keys were sent in, where JavaScript does not keep it (DESIGN §2: only
 * the first 20 keys of `metadata`, in the order sent, are usable).
 *
 * A JavaScript object lists its integer-like keys (`"0"`, `"17"`, `"99"`: array indices, up to
 * 2³² − 2) first, in ascending order, then the others in the order they were created; so
 * `JSON.parse('{"a":1,"99":2}')` lists `99` first, and `JSON.stringify` writes it first. Every
 * other key keeps its place. The order changes a decision when an object has more than 20 keys
 * and one of them is integer-like, and the event catalog's places whenever one is among two keys
 * or more: then, and only then (a key such as `"99"` is rare), whoever reads the JSON text (the log
 * line, the request body) reads the keys' order from the text again and attaches it to the object
 * it parsed (`setSentOrder`), as a hidden, non-enumerable symbol property: `JSON.stringify`,
 * `Object.keys`, a spread and `toEqual` never see it, and it travels with the object through
 * `stampEntry` and every function that passes the entry on. Readers that need the order
 * (`usableMetadata`, the event catalog, the log's writer `entryJson`) ask `keysInSentOrder`.
 * An object built in JavaScript carries no order, and its keys are taken in JavaScript's.
 */

const SENT_ORDER: unique symbol = Symbol('nudge.sentOrder');
type Ordered = { readonly [SENT_ORDER]?: readonly string[] };

const ZERO = 48;
const NINE = 57;
/** The largest array index, 2³² − 2, as JavaScript orders keys: `"4294967295"` keeps its place. */
const MAX_ARRAY_INDEX = 4_294_967_294;

/** True for the keys a JavaScript object lists first: `"0"`, `"17"`, `"4294967294"`; not `"01"`, `"-1"`, `"1.5"`, `"4294967295"`. */
export function isArrayIndex(key: string): boolean {
  const length = key.length;
  if (length === 0 || length > 10) return false;
  const first = key.charCodeAt(0);
  if (first < ZERO || first > NINE || (first === ZERO && length > 1)) return false;
  for (let i = 1; i < length; i++) {
    const code = key.charCodeAt(i);
    if (code < ZERO || code > NINE) return false;
  }
  return length < 10 || Number(key) <= MAX_ARRAY_INDEX;
}

/**
 * True when JavaScript may have moved the keys of `object` and more than `usable` of them exist:
 * its first key is an array index (if any key is one, the first is) and it has more than `usable`
 * keys. Costs one key for an object without an integer-like key, so the common case pays nothing.
 */
export function mayBeOutOfOrder(object: object, usable: number): boolean {
  let count = 0;
  for (const key in object) {
    if (count === 0 && !isArrayIndex(key)) return false;
    if (++count > usable) return true;
  }
  return false;
}

/** The order attached by `setSentOrder`, if any. */
export const sentOrderOf = (object: object): readonly string[] | undefined => (object as Ordered)[SENT_ORDER];

/** The keys of `object` in the order sent when it carries it, else in JavaScript's order. */
export const keysInSentOrder = (object: object): readonly string[] =>
  (object as Ordered)[SENT_ORDER] ?? Object.keys(object);

/**
 * Attaches the order its keys were sent in to an object its caller has just parsed (never to an
 * object someone else holds: the core does not mutate its inputs). `sent` may name keys the object
 * lacks (a schema that dropped one); a key of the object that `sent` does not name leaves the
 * object without an order, in JavaScript's, and answers false.
 */
export function setSentOrder(object: object, sent: readonly string[]): boolean {
  const keys = Object.keys(object);
  const order = sent.filter((key) => Object.hasOwn(object, key));
  if (order.length !== keys.length || new Set(order).size !== order.length || !Object.isExtensible(object))
    return false;
  Object.defineProperty(object, SENT_ORDER, { value: Object.freeze(order), enumerable: false });
  return true;
}
