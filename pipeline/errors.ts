/**
 * Input that breaks the contract (a malformed log line, an invalid message file): a permanent
 * problem of the input, never retried. `where` names the file and line or the path.
 */
export class InputError extends Error {
  override readonly name = 'InputError';

  constructor(
    readonly where: string,
    readonly problems: readonly string[],
    options?: ErrorOptions,
  ) {
    super(`${where}: ${problems.join('; ')}`, options);
  }
}
