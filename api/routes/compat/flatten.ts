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
 * refuses the call, naming it.
 */
export function flatten(value: unknown, where: string, maxKeys = Number.POSITIVE_INFINITY): Flattened {
  if (value === undefined || value === null) return { flat: {}, dropped: [] };
  if (typeof value !== 'object' || Array.isArray(value)) return { problem: `${where}: must be an object` };
  const flat: Record<string, Scalar> = {};
  const dropped: string[] = [];
  let kept = 0;
  const visit = (object: object, prefix: string): string | undefined => {
    const items: [string, unknown][] = Array.isArray(object)
      ? object.map((item, i): [string, unknown] => [String(i), item])
      : Object.entries(object);
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
      flat[path] = item as Scalar;
      kept++;
    }
    return undefined;
  };
  const problem = visit(value, '');
  return problem === undefined ? { flat, dropped } : { problem };
}
