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

/** The services behind the ports, as an error names the one that did not answer. */
export type Service = 'log' | 'catalog' | 'audit' | 'stats' | 'replays';

/**
 * A service behind a port did not answer (NATS, ClickHouse): nothing was done, and the request can
 * be retried as it is. The message is for people and names no host or database.
 */
export class ServiceUnavailable extends Error {
  override readonly name = 'ServiceUnavailable';

  constructor(
    readonly service: Service,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** A read that ran past its time limit: whoever asked should ask for less. */
export class QueryTooLong extends Error {
  override readonly name = 'QueryTooLong';
}

/** A write that lost the race with another writer of the same definition: read it again and retry. */
export class WriteConflict extends Error {
  override readonly name = 'WriteConflict';
}
