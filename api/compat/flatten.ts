import type { Scalar } from '../../pipeline/core/scalar.ts';

/** Nested objects as dotted keys (`{ product: { id: 1 } }` → `product.id`), or why they cannot be. */
export type Flattened = { readonly flat: Record<string, Scalar> } | { readonly problem: string };

/**
 * Flattens a client's properties, traits or metadata into Nudge's flat scalars. Nested objects
 * become dotted keys, in the order sent; an array cannot be mapped (its items have no key a rule
 * could name) and refuses the whole call, naming its path, rather than being dropped; so does a
 * key that two paths would both produce (`{"a.b": 1, "a": {"b": 2}}`).
 */
export function flatten(value: unknown, where: string): Flattened {
  if (value === undefined || value === null) return { flat: {} };
  if (typeof value !== 'object' || Array.isArray(value)) return { problem: `${where}: must be an object` };
  const flat: Record<string, Scalar> = {};
  const visit = (object: object, prefix: string): string | undefined => {
    for (const [key, item] of Object.entries(object) as [string, unknown][]) {
      const path = prefix === '' ? key : `${prefix}.${key}`;
      if (Array.isArray(item))
        return `${where}.${path}: arrays cannot be mapped to flat keys; send the items as keys of their own`;
      if (item !== null && typeof item === 'object') {
        const problem = visit(item, path);
        if (problem !== undefined) return problem;
        continue;
      }
      if (item === undefined) continue;
      if (Object.hasOwn(flat, path)) return `${where}.${path}: two keys flatten to the same name`;
      flat[path] = item as Scalar;
    }
    return undefined;
  };
  const problem = visit(value, '');
  return problem === undefined ? { flat } : { problem };
}
