/** The command line itself is wrong (unknown option, missing argument): exit 2 with the usage. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}
