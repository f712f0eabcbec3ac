import type { z } from 'zod';

/** The result of checking input against the contract: a value, or every problem as `path: message`. */
export type Validated<T> =
  { readonly ok: true; readonly value: T } | { readonly ok: false; readonly errors: string[] };

export function validate<S extends z.ZodType>(schema: S, input: unknown): Validated<z.output<S>> {
  const result = schema.safeParse(input);
  if (result.success) return { ok: true, value: result.data };
  return { ok: false, errors: formatIssues(result.error.issues) };
}

type Issue = z.core.$ZodIssue;

/** The message schemas give for a missing value, whatever their message for a wrong one. */
export const REQUIRED = 'required';

/** A zod error option: "required" for a missing value, `message` for a wrong one. */
export const requiredOr = (message: string) => (issue: { input?: unknown }) =>
  issue.input === undefined ? REQUIRED : message;
type Path = readonly PropertyKey[];

/** `trigger.where.all[1].op: unknown op "gtt"`, one line per problem. */
export function formatIssues(issues: readonly Issue[], base: Path = []): string[] {
  return issues.flatMap((issue) => {
    const path = [...base, ...issue.path];
    if (issue.code === 'invalid_union' && issue.errors.length > 0) {
      const branch = likeliestBranch(issue.errors);
      if (branch !== undefined) return formatIssues(branch, path);
    }
    return [`${formatPath(path) || '(root)'}: ${describe(issue)}`];
  });
}

function describe(issue: Issue): string {
  if (issue.code === 'invalid_union') {
    return issue.message === 'Invalid input' ? 'does not match any accepted shape' : issue.message;
  }
  if (issue.code === 'unrecognized_keys') {
    return `unknown ${issue.keys.length === 1 ? 'key' : 'keys'} ${issue.keys.map((k) => JSON.stringify(k)).join(', ')}`;
  }
  if (issue.code === 'invalid_type' && issue.message.endsWith('received undefined')) return 'required';
  if (issue.message === REQUIRED) return 'required';
  return issue.message;
}

/**
 * zod reports every branch of a failed union; the person wants the branch they meant: the one
 * that misses the fewest keys and finds the fewest unknown ones at its own level. The condition
 * `{field, op: "gtt"}` was meant as a leaf, `{all: [...]}` as a group. When two branches are
 * equally close, no guess is made and the union itself is reported.
 */
function likeliestBranch(branches: readonly (readonly Issue[])[]): readonly Issue[] | undefined {
  const scored = branches.map((issues) => ({ issues, misfits: issues.filter(isShapeMismatch).length }));
  const best = Math.min(...scored.map((s) => s.misfits));
  const winners = scored.filter((s) => s.misfits === best);
  return winners.length === 1 ? winners[0]?.issues : undefined;
}

function isShapeMismatch(issue: Issue): boolean {
  if (issue.path.length === 0) return issue.code === 'unrecognized_keys' || issue.code === 'invalid_type';
  return issue.path.length === 1 && issue.code !== 'custom' && describe(issue).startsWith('required');
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
