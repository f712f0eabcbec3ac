/** How deep a request body may nest: more than any message (conditions about 30 levels deep) needs. */
export const MAX_BODY_DEPTH = 64;

/**
 * Whether a parsed JSON value nests deeper than `max` (an object or array in an object or array…),
 * found without recursion: a body nested thousands deep would overflow the stack of a recursive
 * walk, and of the schemas' recursive parse, which is what this guards.
 */
export function nestsDeeperThan(value: unknown, max: number): boolean {
  const stack: { readonly value: unknown; readonly depth: number }[] = [{ value, depth: 0 }];
  for (let top = stack.pop(); top !== undefined; top = stack.pop()) {
    if (typeof top.value !== 'object' || top.value === null) continue;
    const depth = top.depth + 1;
    if (depth > max) return true;
    for (const child of Object.values(top.value)) {
      if (typeof child === 'object' && child !== null) stack.push({ value: child, depth });
    }
  }
  return false;
}
