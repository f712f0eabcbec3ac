import type { FastifyInstance, HTTPMethods, LightMyRequestResponse } from 'fastify';
import { expect } from 'vitest';

/** What the checks below read of an injected response, so they can also be tried on made-up ones. */
export type ResponseLike = Pick<LightMyRequestResponse, 'statusCode' | 'headers' | 'body'>;

export type ErrorShape = { readonly code: string; readonly message: string; readonly details?: unknown };

export const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** The body as JSON; a body that is not JSON fails with the body in the message rather than a bare SyntaxError. */
export function bodyOf(response: ResponseLike): unknown {
  try {
    return JSON.parse(response.body) as unknown;
  } catch {
    throw new Error(`the ${response.statusCode} answer is not JSON: ${response.body.slice(0, 300)}`);
  }
}

/** A JSON object body, or a failure naming what came instead. */
export function recordOf(response: ResponseLike): Record<string, unknown> {
  const body = bodyOf(response);
  if (!isRecord(body))
    throw new Error(`the ${response.statusCode} answer is not an object: ${response.body}`);
  return body;
}

const ERROR_KEYS = new Set(['code', 'message', 'details']);

/**
 * The one error shape of every non-2xx answer: `{ error: { code, message, details? } }` and nothing
 * else, code and message non-empty strings. Returns the `error` object for the caller's own checks.
 */
export function expectErrorShape(response: ResponseLike, status: number): ErrorShape {
  expect(response.statusCode, response.body.slice(0, 500)).toBe(status);
  expect(String(response.headers['content-type'])).toMatch(/^application\/json/);
  const body = recordOf(response);
  expect(Object.keys(body), response.body.slice(0, 500)).toEqual(['error']);
  const error = body['error'];
  if (!isRecord(error)) throw new Error(`"error" is not an object: ${response.body.slice(0, 500)}`);
  expect(Object.keys(error).filter((key) => !ERROR_KEYS.has(key))).toEqual([]);
  const { code, message } = error;
  if (typeof code !== 'string' || code === '')
    throw new Error(`error.code is not a string: ${response.body}`);
  if (typeof message !== 'string' || message === '')
    throw new Error(`error.message is not a string: ${response.body.slice(0, 500)}`);
  return 'details' in error ? { code, message, details: error['details'] } : { code, message };
}

/** A request the way clients send one: JSON (or raw text as is) with an API key. */
export function send(
  app: FastifyInstance,
  request: {
    readonly method?: HTTPMethods;
    readonly url: string;
    readonly key?: string | undefined;
    readonly body?: unknown;
    readonly headers?: Readonly<Record<string, string>>;
  },
): Promise<LightMyRequestResponse> {
  const headers: Record<string, string> = {};
  if (request.body !== undefined) headers['content-type'] = 'application/json';
  if (request.key !== undefined) headers['authorization'] = `Bearer ${request.key}`;
  return app.inject({
    method: request.method ?? 'POST',
    url: request.url,
    headers: { ...headers, ...request.headers },
    ...(request.body === undefined
      ? {}
      : { payload: typeof request.body === 'string' ? request.body : JSON.stringify(request.body) }),
  });
}
