/** How deep a request body may nest: more than any message (conditions about 30 levels deep) needs. */
export const MAX_BODY_DEPTH = 64;

/**
 * Whether a parsed JSON value nests deeper than `max` (an object or array in an object or array…).
 * A body nested thousands deep would overflow the stack of the schemas' recursive parse, which is
 * what this guards; its own recursion stops at `max` levels, so it cannot overflow, and it
 * allocates nothing (it runs on every ingest request).
 */
export function nestsDeeperThan(value: unknown, max: number): boolean {
  if (typeof value !== 'object' || value === null) return false;
  if (max === 0) return true;
  if (Array.isArray(value)) {
    for (const item of value) if (nestsDeeperThan(item, max - 1)) return true;
    return false;
  }
  // A parsed body's objects are plain, with no inherited keys (fastify refuses "__proto__").
  for (const key in value) if (nestsDeeperThan((value as Record<string, unknown>)[key], max - 1)) return true;
  return false;
}
