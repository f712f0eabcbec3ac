import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { formatIssues } from '../pipeline/core/validation.ts';
import { InputError } from '../pipeline/errors.ts';

/** The one error shape of every route (issue #4): a stable code, a sentence, and details when there are any. */
export const ErrorBodySchema = z
  .object({
    error: z.object({
      code: z
        .string()
        .describe('stable, for programs: invalid_request, unauthorized, forbidden, not_found, …'),
      message: z.string().describe('for people'),
      details: z.unknown().optional(),
    }),
  })
  .meta({ id: 'Error' });
export type ErrorBody = z.output<typeof ErrorBodySchema>;

/** An answer other than success, thrown by a handler or a hook and shaped by `errorHandler`. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
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
function validationProblems(error: FastifyError): string[] {
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
  return formatIssues(issues, base);
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
    const problems = validationProblems(error);
    return { status: 400, body: errorBody('invalid_request', problems.join('; '), problems) };
  }
  if (error instanceof InputError)
    return { status: 400, body: errorBody('invalid_request', error.message, error.problems) };
  const status = error.statusCode ?? 500;
  if (status >= 400 && status < 500) {
    const code = (error.code || 'invalid_request').replace(/^FST_ERR_/, '').toLowerCase();
    return { status, body: errorBody(code, error.message) };
  }
  request.log.error({ err: error }, 'request failed');
  return { status: 500, body: errorBody('internal', 'the request failed on our side; it is safe to retry') };
}
