import { isArrayIndex, keysInSentOrder, setSentOrder } from '../../../pipeline/core/key-order.ts';
import { USABLE_METADATA_KEYS } from '../../../pipeline/core/log-entry.ts';
import type { Scalar } from '../../../pipeline/core/scalar.ts';

/**
 * Nested values as dotted keys (`{ product: { id: 1 } }` → `product.id`), with the keys left out
 * past the budget; or why the value cannot be flattened.
 */
export type Flattened =
  | { readonly flat: Record<string, Scalar>; readonly dropped: readonly string[] }
  | { readonly problem: string };

/**
 * Flattens a client's properties, traits or metadata into Nudge's flat scalars, in the order sent.
 * Nested objects become dotted keys; arrays become their items' places (`products.0.price`, as
 * Segment's e-commerce spec sends products), so a rule can name the first product's price. At most
 * `maxKeys` keys are kept, the first ones sent; the rest are listed as dropped (a large order must
 * not refuse the whole event). A key that two paths would both produce (`{"a.b": 1, "a": {"b": 2}}`)
 * refuses the call, naming it. A `__proto__` key is data, as everywhere.
 *
 * The order sent: JavaScript lists an object's integer-like keys first (`core/key-order.ts`), so
 * when an object had one and more than 20 keys come out, `sent` (the same value read again from
 * the request's text by `parseInSentOrder`) is flattened instead, and the flat object carries the
 * order its keys came out in. Without `sent`, or below that, JavaScript's order is taken.
 */
export function flatten(
  value: unknown,
  where: string,
  maxKeys = Number.POSITIVE_INFINITY,
  sent?: () => unknown,
): Flattened {
  const first = flattenOnce(value, where, maxKeys, false);
  if (sent === undefined || !('flat' in first) || !first.moved) return visible(first);
  const again = flattenOnce(sent(), where, maxKeys, true);
  // The same keys read again, or (a text that could not be read again) JavaScript's order.
  const same =
    'flat' in again &&
    again.dropped.length === first.dropped.length &&
    Object.keys(again.flat).length === Object.keys(first.flat).length;
  return visible(same ? again : first);
}

type Outcome =
  | { readonly flat: Record<string, Scalar>; readonly dropped: readonly string[]; readonly moved: boolean }
  | { readonly problem: string };

const visible = (outcome: Outcome): Flattened =>
  'flat' in outcome ? { flat: outcome.flat, dropped: outcome.dropped } : outcome;

/**
 * One pass. `inSentOrder`: objects are read in the order they carry (`keysInSentOrder`) and the
 * flat object gets its own. `moved`: JavaScript may have moved keys that matter (an object whose
 * first key is integer-like, and more than 20 keys out).
 */
function flattenOnce(value: unknown, where: string, maxKeys: number, inSentOrder: boolean): Outcome {
  if (value === undefined || value === null) return { flat: {}, dropped: [], moved: false };
  if (typeof value !== 'object' || Array.isArray(value)) return { problem: `${where}: must be an object` };
  const flat: Record<string, Scalar> = {};
  const order: string[] = [];
  const dropped: string[] = [];
  let kept = 0;
  // Set inside `visit`: an object whose first key is integer-like (JavaScript moved it there).
  const moved = { integerLike: false };
  const visit = (object: object, prefix: string): string | undefined => {
    const items = membersOf(object, inSentOrder);
    const firstKey = items[0]?.[0];
    if (!Array.isArray(object) && firstKey !== undefined && isArrayIndex(firstKey)) moved.integerLike = true;
    for (const [key, item] of items) {
      const path = prefix === '' ? key : `${prefix}.${key}`;
      if (item !== null && typeof item === 'object') {
        const problem = visit(item, path);
        if (problem !== undefined) return problem;
        continue;
      }
      if (item === undefined) continue;
      if (Object.hasOwn(flat, path) || dropped.includes(path))
        return `${where}.${path}: two keys flatten to the same name`;
      if (kept >= maxKeys) {
        dropped.push(path);
        continue;
      }
      // A data property whatever the key: `flat.__proto__ = 1` would set nothing.
      if (path === '__proto__')
        Object.defineProperty(flat, path, {
          value: item,
          enumerable: true,
          writable: true,
          configurable: true,
        });
      else flat[path] = item as Scalar;
      if (inSentOrder) order.push(path);
      kept++;
    }
    return undefined;
  };
  const problem = visit(value, '');
  if (problem !== undefined) return { problem };
  if (inSentOrder) setSentOrder(flat, order);
  return { flat, dropped, moved: moved.integerLike && kept + dropped.length > USABLE_METADATA_KEYS };
}

function membersOf(object: object, inSentOrder: boolean): [string, unknown][] {
  if (Array.isArray(object)) return object.map((item, i): [string, unknown] => [String(i), item]);
  if (!inSentOrder) return Object.entries(object);
  return keysInSentOrder(object).map((key) => [key, (object as Record<string, unknown>)[key]]);
}
