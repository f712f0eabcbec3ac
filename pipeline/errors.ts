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

/** `JSON.parse`, with a syntax error turned into an `InputError` naming where the text came from. */
export function parseJson(text: string, where: string | (() => string)): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new InputError(
      typeof where === 'string' ? where : where(),
      [`invalid JSON (${(error as Error).message})`],
      {
        cause: error,
      },
    );
  }
}
