/**
 * The routes an API serves, as fastify registers them, so that a request for none of them is told
 * what is there: the methods a path takes (a 405 with `Allow`), or the route nearest to a
 * misspelled path (a 404 that says "did you mean").
 */
export class RouteDirectory {
  private readonly routes: { method: string; url: string; segments: string[]; pattern: RegExp }[] = [];

  add(method: string, url: string): void {
    // HEAD follows GET, and OPTIONS answers browsers' preflights: neither is what a person asks for.
    if (method === 'HEAD' || method === 'OPTIONS') return;
    const pattern = new RegExp(
      `^${url
        .split('/')
        .map((part) => (part.startsWith(':') ? '[^/]+' : part === '*' ? '.*' : escape(part)))
        .join('/')}/?$`,
    );
    this.routes.push({ method, url, segments: url.split('/'), pattern });
  }

  /** The methods that have a route for this path. */
  methodsFor(path: string): string[] {
    const methods = this.routes.filter((r) => r.pattern.test(path)).map((r) => r.method);
    return [...new Set(methods)].sort();
  }

  /** The route most like a path that has none, when one is close: a typo in one word of it. */
  nearest(path: string): string | undefined {
    const segments = path.split('/');
    let best: { route: string; distance: number } | undefined;
    for (const route of this.routes) {
      if (route.segments.length !== segments.length) continue;
      const distance = pathDistance(route.segments, segments);
      if (distance !== undefined && distance > 0 && (best === undefined || distance < best.distance))
        best = { route: `${route.method} ${route.url}`, distance };
    }
    return best?.route;
  }
}

/**
 * How many letters a concrete path is off a route (its parameters match anything), or undefined
 * when a word is off by more than one letter in three, so "nope" is never taken for "caps".
 */
function pathDistance(route: readonly string[], path: readonly string[]): number | undefined {
  let distance = 0;
  for (const [i, part] of route.entries()) {
    if (part.startsWith(':')) continue;
    const off = editDistance(part, path[i] ?? '');
    if (off > Math.max(1, Math.floor(part.length / 3))) return undefined;
    distance += off;
  }
  return distance;
}

const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Levenshtein's distance, for short path words. */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, substitution));
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}
