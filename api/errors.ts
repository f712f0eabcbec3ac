import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { formatIssues, keysOf } from '../pipeline/core/validation.ts';
import { InputError, QueryTooLong, ServiceUnavailable, WriteConflict } from '../pipeline/errors.ts';
import type { Service } from '../pipeline/errors.ts';
import type { ErrorCode } from './error-codes.ts';
import { ERROR_CODES } from './error-codes.ts';

/** The one error shape of every route (issue #4): a stable code, a sentence, and details when there are any. */
export const ErrorBodySchema = z
  .object({
    error: z.object({
      code: z.string().describe(`stable, for programs: ${Object.keys(ERROR_CODES).join(', ')}`),
      message: z.string().describe('for people'),
      details: z.unknown().optional(),
    }),
  })
  .meta({ id: 'Error' });
export type ErrorBody = z.output<typeof ErrorBodySchema>;

/** An answer other than success, thrown by a handler or a hook and shaped by `errorHandler`; its status is its code's. */
export class ApiError extends Error {
  readonly status: number;

  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
    this.status = ERROR_CODES[code].status;
  }
}

export const errorBody = (code: string, message: string, details?: unknown): ErrorBody => ({
  error: details === undefined ? { code, message } : { code, message, details },
});

/**
 * The validation problems of a request, one `path: message` line each, worded as the CLI words
 * them: the zod issues are rebuilt from what fastify-type-provider-zod keeps of them, so
 * `formatIssues` can pick the branch of a union the client meant.
 */
function validationProblems(error: FastifyError, request: FastifyRequest): string[] {
  const issues = (error.validation ?? []).map((v) => ({
    ...v.params,
    code: v.keyword,
    message: v.message ?? 'invalid',
    path: v.instancePath
      .split('/')
      .slice(1)
      .filter((part) => part !== '')
      .map((part) => (/^\d+$/.test(part) ? Number(part) : part)),
  })) as unknown as z.core.$ZodIssue[]; // the shape zod gave them, less what was set aside above
  const base =
    error.validationContext === 'body' || error.validationContext === undefined
      ? []
      : [error.validationContext];
  const schema = request.routeOptions.schema?.[error.validationContext ?? 'body'];
  return formatIssues(issues, base, isZodSchema(schema) ? keysOf(schema) : []);
}

/**
 * Every error becomes the one shape. A client's mistake is always a 4xx (fastify's own, such as
 * 413 for a body over the limit or 415 for a content type it cannot parse, keep their status);
 * only a fault of ours or of a service is a 5xx, and it says which.
 */
export function errorHandler(error: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  const { status, body } = errorAnswer(error, request);
  void reply.code(status).send(body);
}

/** The status and body of an error: what a handler threw, a schema refused, or (a 500) a failure of ours. */
export function errorAnswer(
  error: FastifyError,
  request: FastifyRequest,
): { status: number; body: ErrorBody } {
  if (error instanceof ApiError)
    return { status: error.status, body: errorBody(error.code, error.message, error.details) };
  if (hasZodFastifySchemaValidationErrors(error)) {
    const problems = validationProblems(error, request);
    return { status: 400, body: errorBody('invalid_request', problems.join('; '), problems) };
  }
  if (error instanceof InputError)
    return { status: 400, body: errorBody('invalid_request', error.message, error.problems) };
  const domain = domainError(error);
  if (domain !== undefined)
    return { status: ERROR_CODES[domain].status, body: errorBody(domain, error.message) };
  const status = error.statusCode ?? 500;
  if (status >= 400 && status < 500) {
    const { code, message } = frameworkError(error, request);
    return { status: ERROR_CODES[code].status, body: errorBody(code, message) };
  }
  request.log.error({ err: error }, 'request failed');
  return { status: 500, body: errorBody('internal', 'the request failed on our side; it is safe to retry') };
}

/**
 * What fastify refused before a handler ran, in our words: fastify's own codes (`FST_ERR_CTP_…`)
 * and messages name its internals, not what the client should send instead.
 */
function frameworkError(error: FastifyError, request: FastifyRequest): { code: ErrorCode; message: string } {
  switch (error.code) {
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return { code: 'unsupported_media_type', message: mediaTypeProblem(request.headers['content-type']) };
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return {
        code: 'body_too_large',
        message: `the body is over ${request.routeOptions.bodyLimit} bytes: send less, or a smaller batch`,
      };
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return { code: 'invalid_request', message: 'content-length does not match the body that came' };
    default: {
      // Our own code from a plugin's answer (the rate limiter's `rate_limited`).
      if (Object.hasOwn(ERROR_CODES, error.code))
        return { code: error.code as ErrorCode, message: error.message };
      const status = error.statusCode ?? 400;
      const code = STATUS_CODES[status] ?? 'invalid_request';
      return { code, message: error.message };
    }
  }
}

/** Why a body's content type is refused, and what to send. */
export function mediaTypeProblem(contentType: string | undefined, accepted = 'application/json'): string {
  const fix = `send the body as JSON with content-type: ${accepted}`;
  return contentType === undefined || contentType === ''
    ? `the request has a body but no content-type: ${fix}`
    : `content-type ${JSON.stringify(contentType)} is not read here: ${fix}`;
}

const STATUS_CODES: Partial<Record<number, ErrorCode>> = {
  404: 'not_found',
  405: 'method_not_allowed',
  413: 'body_too_large',
  414: 'uri_too_long',
  415: 'unsupported_media_type',
  429: 'rate_limited',
};

/** A route schema that zod made (every route's here; the guard keeps `keysOf` off anything else). */
const isZodSchema = (value: unknown): value is z.core.$ZodType =>
  typeof value === 'object' && value !== null && '_zod' in value;

const UNAVAILABLE: Record<Service, ErrorCode> = {
  log: 'log_unavailable',
  catalog: 'catalog_unavailable',
  audit: 'audit_unavailable',
  stats: 'stats_unavailable',
  replays: 'replays_unavailable',
};

/** The code of an error a port throws (the ports know no HTTP): by its class, never its message. */
function domainError(error: Error): ErrorCode | undefined {
  if (error instanceof ServiceUnavailable) return UNAVAILABLE[error.service];
  if (error instanceof QueryTooLong) return 'query_too_long';
  if (error instanceof WriteConflict) return 'conflict';
  return undefined;
}
