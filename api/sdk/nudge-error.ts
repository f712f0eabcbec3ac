/**
 * What every promise of the SDK rejects with: the API's answer (`status`, and the `code` and
 * `message` of its `{ error: { code, message } }` body) or, when no answer came, status 0 with the
 * SDK's own code (`network_error`, `not_booted`, `shut_down`).
 */
export class NudgeError extends Error {
  readonly status: number;
  readonly code: string;
  readonly details: unknown;

  constructor(status: number, code: string, message: string, details?: unknown) {
    super(message);
    this.name = 'NudgeError';
    this.status = status;
    this.code = code;
    this.details = details;
  }

  /** Refused for good: a wrong key or hash is not fixed by asking again. */
  get refused(): boolean {
    return this.status === 401 || this.status === 403;
  }

  /** The error an answer that is not 2xx carries, from its JSON body when it has one. */
  static async fromResponse(response: Response): Promise<NudgeError> {
    let body: unknown;
    try {
      body = await response.json();
    } catch {
      body = undefined;
    }
    const inner = isRecord(body) ? body['error'] : undefined;
    const error: Record<string, unknown> = isRecord(inner) ? inner : {};
    const code = typeof error['code'] === 'string' ? error['code'] : `http_${String(response.status)}`;
    const message =
      typeof error['message'] === 'string' ? error['message'] : `the API answered ${String(response.status)}`;
    return new NudgeError(response.status, code, message, error['details']);
  }

  /** What a failed fetch (no answer at all) rejects with. */
  static network(cause: unknown): NudgeError {
    const reason = cause instanceof Error ? cause.message : String(cause);
    return new NudgeError(0, 'network_error', `the API could not be reached: ${reason}`);
  }
}

export const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);
