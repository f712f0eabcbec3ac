import type { z } from 'zod';

/** The result of checking input against the contract: a value, or every problem as `path: message`. */
export type Validated<T> =
  { readonly ok: true; readonly value: T } | { readonly ok: false; readonly errors: string[] };

export function validate<S extends z.ZodType>(schema: S, input: unknown): Validated<z.output<S>> {
  const result = schema.safeParse(input);
  if (result.success) return { ok: true, value: result.data };
  return { ok: false, errors: formatIssues(result.error.issues, [], keysOf(schema)) };
}

const vocabularies = new WeakMap<object, readonly string[]>();

/**
 * Every object key a schema names, at any depth: what a misspelled key is matched against. Read
 * from zod 4's schema definitions (`_zod.def`, the form zod documents for libraries built on it).
 */
export function keysOf(schema: z.core.$ZodType): readonly string[] {
  const known = vocabularies.get(schema);
  if (known !== undefined) return known;
  const keys = new Set<string>();
  const seen = new Set<unknown>();
  const visit = (node: unknown): void => {
    if (typeof node !== 'object' || node === null || seen.has(node)) return;
    seen.add(node);
    const def = (node as { _zod?: { def?: Record<string, unknown> } })._zod?.def;
    if (def === undefined) return;
    const shape = def['shape'];
    if (typeof shape === 'object' && shape !== null)
      for (const [key, child] of Object.entries(shape)) {
        keys.add(key);
        visit(child);
      }
    for (const part of ['innerType', 'in', 'out', 'element', 'valueType', 'left', 'right']) visit(def[part]);
    if (Array.isArray(def['options'])) for (const option of def['options']) visit(option);
    const getter = def['getter'];
    if (typeof getter === 'function') visit((getter as () => unknown)());
  };
  visit(schema);
  const list = [...keys];
  vocabularies.set(schema, list);
  return list;
}

type Issue = z.core.$ZodIssue;

/** The message schemas give for a missing value, whatever their message for a wrong one. */
export const REQUIRED = 'required';

/** A zod error option: "required" for a missing value, `message` and what came for a wrong one. */
export const requiredOr = (message: string) => (issue: { input?: unknown }) =>
  issue.input === undefined ? REQUIRED : `${message}, got ${preview(issue.input)}`;

/** A value as a message quotes it: JSON, cut short. */
export function preview(value: unknown): string {
  const text = JSON.stringify(value) as string | undefined;
  if (text === undefined) return typeof value;
  return text.length > 40 ? `${text.slice(0, 37)}…` : text;
}
type Path = readonly PropertyKey[];

/** `trigger.where.all[1].op: unknown op "gtt"`, one line per problem. */
export function formatIssues(
  issues: readonly Issue[],
  base: Path = [],
  vocabulary: readonly string[] = [],
): string[] {
  return issues.flatMap((issue) => {
    const path = [...base, ...issue.path];
    if (issue.code === 'invalid_union' && issue.errors.length > 0) {
      const branch = likeliestBranch(issue.errors);
      if (branch !== undefined) return formatIssues(branch, path, vocabulary);
    }
    return [`${formatPath(path) || '(root)'}: ${describe(issue, issues, vocabulary)}`];
  });
}

/**
 * `siblings`: the issues reported with this one, and `vocabulary`: the keys the schema knows,
 * where a misspelled key finds the key it was meant to be (a missing one first).
 */
function describe(issue: Issue, siblings: readonly Issue[] = [], vocabulary: readonly string[] = []): string {
  if (issue.code === 'invalid_union') {
    return issue.message === 'Invalid input' ? 'does not match any accepted shape' : issue.message;
  }
  if (issue.code === 'unrecognized_keys') {
    const candidates = [...missingKeys(siblings, issue.path), ...vocabulary];
    const named = issue.keys.map((key) => {
      const meant = candidates.find((candidate) => looksLike(key, candidate));
      return meant === undefined
        ? JSON.stringify(key)
        : `${JSON.stringify(key)} (did you mean ${JSON.stringify(meant)}?)`;
    });
    return `unknown ${issue.keys.length === 1 ? 'key' : 'keys'} ${named.join(', ')}`;
  }
  if (issue.code === 'invalid_type' && issue.message.endsWith('received undefined')) return 'required';
  if (issue.message === REQUIRED) return 'required';
  return issue.message;
}

/** The keys reported missing right under `path`. */
function missingKeys(issues: readonly Issue[], path: Path): string[] {
  return issues.flatMap((issue) => {
    const key = issue.path[path.length];
    const under = issue.path.length === path.length + 1 && path.every((part, i) => issue.path[i] === part);
    return under && typeof key === 'string' && describe(issue).startsWith(REQUIRED) ? [key] : [];
  });
}

/** A key written for another: the same letters but for case, `_` and `-`, or (in a long key) one letter off or two swapped. */
function looksLike(written: string, meant: string): boolean {
  const plain = (key: string) => key.toLowerCase().replace(/[_-]/g, '');
  if (plain(written) === plain(meant)) return true;
  const [a, b] = [plain(written), plain(meant)];
  // Short keys differ in a letter by design (`a`, `b`): only a longer one can be a typo of another.
  if (Math.abs(a.length - b.length) > 1 || Math.min(a.length, b.length) < 4) return false;
  let i = 0;
  while (i < a.length && a[i] === b[i]) i++;
  const swapped = a[i] === b[i + 1] && a[i + 1] === b[i] && a.slice(i + 2) === b.slice(i + 2);
  return (
    swapped ||
    a.slice(i + 1) === b.slice(i + 1) ||
    a.slice(i) === b.slice(i + 1) ||
    a.slice(i + 1) === b.slice(i)
  );
}

/**
 * zod reports every branch of a failed union; the person wants the branch they meant: the one
 * that misses the fewest keys and finds the fewest unknown ones at its own level. The condition
 * `{field, op: "gtt"}` was meant as a leaf, `{all: [...]}` as a group. When two branches are
 * equally close, no guess is made and the union itself is reported.
 */
function likeliestBranch(branches: readonly (readonly Issue[])[]): readonly Issue[] | undefined {
  const scored = branches.map((issues) => ({
    issues,
    misfits: issues.reduce((sum, issue) => sum + misfit(issue), 0),
  }));
  const best = Math.min(...scored.map((s) => s.misfits));
  const winners = scored.filter((s) => s.misfits === best);
  return winners.length === 1 ? winners[0]?.issues : undefined;
}

/** How far an issue puts its branch from what was sent: a missing key, or each unknown one, counts one. */
function misfit(issue: Issue): number {
  if (issue.path.length === 0) {
    if (issue.code === 'unrecognized_keys') return issue.keys.length;
    return issue.code === 'invalid_type' ? 1 : 0;
  }
  return issue.path.length === 1 && issue.code !== 'custom' && describe(issue).startsWith('required') ? 1 : 0;
}

export function formatPath(path: Path): string {
  let text = '';
  for (const key of path) {
    if (typeof key === 'number') text += `[${key}]`;
    else if (typeof key === 'string' && /^[A-Za-z_][A-Za-z0-9_]*$/.test(key)) text += text ? `.${key}` : key;
    else text += `[${JSON.stringify(String(key))}]`;
  }
  return text;
}
