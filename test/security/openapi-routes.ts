import type { FastifyInstance, HTTPMethods } from 'fastify';
import type { Scope } from '../../api/auth/api-keys.ts';
import { bodyOf, isRecord, send } from '../api/api-helpers.ts';

/** A parameter of an operation, as the OpenAPI document states it. */
export type Parameter = {
  readonly in: 'path' | 'query';
  readonly name: string;
  readonly required: boolean;
  readonly schema: unknown;
};

/** One documented operation: what the fuzz builds requests from. */
export type Operation = {
  readonly method: HTTPMethods;
  readonly path: string;
  readonly tag: string;
  readonly parameters: readonly Parameter[];
  /** The JSON schema of the body, if the operation takes one. */
  readonly body: unknown;
  /** No key needed: the probes and the metrics (the document marks them `security: []`, or not at all). */
  readonly open: boolean;
};

const OPENAPI_METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'] as const;
/** As in auth-matrix.test.ts: the document does not mark these open, but they are by design. */
const PUBLIC = new Set(['/healthz', '/readyz', '/metrics']);

/** Every operation of the API's own OpenAPI document, so that a new route is fuzzed without a change here. */
export async function documentedOperations(app: FastifyInstance): Promise<{
  readonly operations: readonly Operation[];
  readonly components: Record<string, unknown>;
}> {
  const doc = bodyOf(await send(app, { method: 'GET', url: '/openapi.json' }));
  if (!isRecord(doc) || !isRecord(doc['paths'])) throw new Error('the OpenAPI document has no paths');
  const components = isRecord(doc['components']) ? doc['components'] : {};
  const operations = Object.entries(doc['paths']).flatMap(([path, item]) =>
    isRecord(item)
      ? OPENAPI_METHODS.flatMap((method): Operation[] => {
          const operation = item[method];
          if (!isRecord(operation)) return [];
          const security = operation['security'];
          const tags = operation['tags'];
          const parameters = Array.isArray(operation['parameters'])
            ? (operation['parameters'] as unknown[]).filter(isRecord).map((p): Parameter => ({
                in: p['in'] === 'path' ? 'path' : 'query',
                name: String(p['name']),
                required: p['required'] === true,
                schema: p['schema'],
              }))
            : [];
          const requestBody = operation['requestBody'];
          const content = isRecord(requestBody) ? requestBody['content'] : undefined;
          const json = isRecord(content) ? content['application/json'] : undefined;
          return [
            {
              method: method.toUpperCase(),
              path,
              tag: Array.isArray(tags) && typeof tags[0] === 'string' ? tags[0] : 'other',
              parameters,
              body: isRecord(json) ? (json['schema'] ?? {}) : undefined,
              open: PUBLIC.has(path) || (Array.isArray(security) && security.length === 0),
            },
          ];
        })
      : [],
  );
  return { operations, components: isRecord(components['schemas']) ? components['schemas'] : {} };
}

export const nameOf = (operation: Pick<Operation, 'method' | 'path'>) =>
  `${operation.method} ${operation.path}`;

/**
 * The scope an operation needs, found by asking it: the guard runs before anything is parsed or
 * validated, so a key of another scope gets its 403 whatever the request holds, and a probe with
 * placeholder parameters and no body does nothing.
 */
export async function scopeOf(
  app: FastifyInstance,
  keys: Readonly<Record<Scope, string>>,
  operation: Operation,
): Promise<Scope> {
  const url = operation.path.replace(/\{[^}]+\}/g, 'probe');
  // A client route refuses a client key without the user's headers with a 401, not a 403: found.
  for (const scope of ['ingest', 'read', 'client'] as const) {
    const response = await send(app, { method: operation.method, url, key: keys[scope] });
    if (response.statusCode !== 403) return scope;
  }
  return 'admin';
}
