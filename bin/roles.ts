import { parseArgs } from 'node:util';
import { UsageError } from './usage-error.ts';

/** What `nudge start` can run in one process; `--roles` picks some, and every role runs when it is not given. */
export const ROLES = ['matcher', 'audit', 'deliveries', 'api'] as const;
export type Role = (typeof ROLES)[number];
/** The roles `runMatcher` runs: everything but the API. */
export const PIPELINE: ReadonlySet<Role> = new Set(['matcher', 'audit', 'deliveries']);

/** `--roles matcher,audit`: the roles named, each once; every role when the flag is absent. */
export function rolesOf(args: readonly string[]): Set<Role> {
  let parsed;
  try {
    parsed = parseArgs({ args: [...args], options: { roles: { type: 'string' } }, strict: true });
  } catch (error) {
    throw new UsageError((error as Error).message, { cause: error });
  }
  const { values } = parsed;
  const given = values['roles'];
  if (given === undefined) return new Set(ROLES);
  const names = given.split(',').map((name) => name.trim());
  const unknown = names.find((name) => !(ROLES as readonly string[]).includes(name));
  if (unknown !== undefined)
    throw new UsageError(`--roles: no role ${JSON.stringify(unknown)} (the roles: ${ROLES.join(', ')})`);
  return new Set(names as Role[]);
}
