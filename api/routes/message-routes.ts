import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { JetStreamClient, JetStreamManager } from 'nats';
import { NatsError } from 'nats';
import { z } from 'zod';
import {
  applyCaps,
  applyMessages,
  latestMessage,
  messageVersions,
  purgeMessage,
  readCatalog,
} from '../../pipeline/adapters/nats/catalog-stream.ts';
import type { Message, MessageInput } from '../../pipeline/core/message-schema.ts';
import {
  GlobalCapListSchema,
  MESSAGE_STATES,
  MessageIdSchema,
  MessageSchema,
} from '../../pipeline/core/message-schema.ts';
import { formatIssues, keysOf } from '../../pipeline/core/validation.ts';
import type { Namespace } from '../../pipeline/namespace.ts';
import { ApiError, ErrorBodySchema } from '../errors.ts';
import type { ScopeGuard } from '../server.ts';

export type MessageDeps = {
  readonly js: JetStreamClient;
  readonly jsm: JetStreamManager;
  readonly ns: Namespace;
  readonly now: () => number;
};

/** JetStream's API error code when the subject moved on since it was read (another writer won). */
const WRONG_LAST_SEQUENCE = 10071;

const IdParams = z.object({ id: MessageIdSchema });
/** A stored version as it is read back: the definition (durations in ms), its version and live_since. */
const StoredMessage = z
  .looseObject({
    id: z.string(),
    version: z.int(),
    state: z.enum(MESSAGE_STATES),
    live_since: z.int().nullable().optional(),
  })
  .meta({ id: 'StoredMessage' });
const CapsBody = z.object({ caps: z.array(z.looseObject({ max: z.int(), per: z.int().describe('ms') })) });
const Change = z.enum(['created', 'updated', 'unchanged']);
const Stored = z.object({ change: Change, message: StoredMessage });
const errors = {
  400: ErrorBodySchema,
  401: ErrorBodySchema,
  403: ErrorBodySchema,
  404: ErrorBodySchema,
  409: ErrorBodySchema,
};
const MessageBody = MessageSchema.describe(
  'a message definition (README, "The message language"); its version is set by the store',
);
const UpdateBody = MessageSchema.extend({ id: MessageIdSchema.optional() }).describe(
  'the whole new definition; the id, if given, must be the one in the path',
);

/**
 * Messages and global caps over HTTP, in the same store as `nudge messages apply` (the catalog
 * stream): every change is a new version, running matchers use it within a second, and each
 * decision records the version it used.
 */
export function messageRoutes(app: FastifyInstance, deps: MessageDeps, guard: ScopeGuard): void {
  const routes = app.withTypeProvider<ZodTypeProvider>();
  const tags = ['messages'];

  routes.get(
    '/v1/messages',
    {
      onRequest: guard('read'),
      schema: {
        tags,
        summary: 'The latest version of every message',
        response: { 200: z.object({ messages: z.array(StoredMessage) }), ...errors },
      },
    },
    async () => ({
      messages: [...(await readCatalog(deps.jsm, deps.ns)).messages],
    }),
  );

  routes.get(
    '/v1/messages/:id',
    {
      onRequest: guard('read'),
      schema: {
        tags,
        summary: 'A message, latest version',
        params: IdParams,
        response: { 200: z.object({ message: StoredMessage }), ...errors },
      },
    },
    async (request) => ({ message: await existing(deps, request.params.id) }),
  );

  routes.get(
    '/v1/messages/:id/versions',
    {
      onRequest: guard('read'),
      schema: {
        tags,
        summary: 'Every version of a message, oldest first',
        params: IdParams,
        response: { 200: z.object({ versions: z.array(StoredMessage) }), ...errors },
      },
    },
    async (request) => {
      await existing(deps, request.params.id);
      return { versions: await messageVersions(deps.js, deps.ns, request.params.id) };
    },
  );

  routes.post(
    '/v1/messages',
    {
      onRequest: guard('admin'),
      schema: {
        tags,
        summary: 'Create a message (version 1)',
        body: MessageBody,
        response: { 201: Stored, ...errors },
      },
    },
    async (request, reply) => {
      if ((await latestMessage(deps.jsm, deps.ns, request.body.id)) !== undefined)
        throw new ApiError(
          'conflict',
          `message ${request.body.id} exists: PUT /v1/messages/${request.body.id} stores a new version`,
        );
      void reply.code(201);
      return store(deps, request.body);
    },
  );

  routes.put(
    '/v1/messages/:id',
    {
      onRequest: guard('admin'),
      schema: {
        tags,
        summary: 'Update a message: a new version when the definition changed',
        params: IdParams,
        body: UpdateBody,
        response: { 200: Stored, ...errors },
      },
    },
    async (request) => {
      const { id } = request.params;
      if (request.body.id !== undefined && request.body.id !== id)
        throw new ApiError(
          'invalid_request',
          `id: "${request.body.id}" is not the message in the path ("${id}")`,
        );
      await existing(deps, id);
      return store(deps, { ...request.body, id });
    },
  );

  routes.delete(
    '/v1/messages/:id',
    {
      onRequest: guard('admin'),
      schema: {
        tags,
        summary: 'Delete a draft (every version of it)',
        params: IdParams,
        response: { 204: z.null().describe('deleted'), ...errors },
      },
    },
    async (request, reply) => {
      const { id } = request.params;
      await existing(deps, id);
      const versions = await messageVersions(deps.js, deps.ns, id);
      if (versions.some((v) => v.state !== 'draft'))
        throw new ApiError(
          'conflict',
          `message ${id} has been launched: decisions name its versions, so it can only be stopped`,
        );
      await purgeMessage(deps.jsm, deps.ns, id);
      void reply.code(204);
      return null;
    },
  );

  const transitions = { launch: 'live', pause: 'paused', stop: 'stopped' } as const;
  for (const [action, state] of Object.entries(transitions)) {
    routes.post(
      `/v1/messages/:id/${action}`,
      {
        onRequest: guard('admin'),
        schema: {
          tags,
          summary:
            action === 'launch'
              ? 'Launch: live from now (live_since is set)'
              : `${action[0]?.toUpperCase() ?? ''}${action.slice(1)}: no more sends`,
          params: IdParams,
          response: { 200: Stored, ...errors },
        },
      },
      async (request) => {
        const current = await existing(deps, request.params.id);
        if (current.state === state) return { change: 'unchanged' as const, message: current };
        // Without live_since, the store sets it: now for a launch, none for a pause or a stop.
        return store(deps, { ...current, state, live_since: undefined });
      },
    );
  }

  routes.post(
    '/v1/messages/validate',
    {
      onRequest: guard('read'),
      schema: {
        tags,
        summary: 'Check a message definition without storing it (the errors nudge messages apply gives)',
        body: z.unknown(),
        response: { 200: z.object({ valid: z.literal(true), message: z.unknown() }), ...errors },
      },
    },
    (request) => {
      const result = MessageSchema.safeParse(request.body);
      if (!result.success) {
        const problems = formatIssues(result.error.issues, [], keysOf(MessageSchema));
        throw new ApiError('invalid_message', problems.join('; '), problems);
      }
      return { valid: true as const, message: result.data };
    },
  );

  routes.get(
    '/v1/caps',
    {
      onRequest: guard('read'),
      schema: { tags, summary: 'The global caps in force', response: { 200: CapsBody, ...errors } },
    },
    async () => ({
      caps: [...(await readCatalog(deps.jsm, deps.ns)).caps],
    }),
  );

  routes.put(
    '/v1/caps',
    {
      onRequest: guard('admin'),
      schema: {
        tags,
        summary: 'Replace the global caps (a new version)',
        body: z.object({ caps: GlobalCapListSchema }),
        response: { 200: CapsBody.extend({ change: z.enum(['updated', 'unchanged']) }), ...errors },
      },
    },
    async (request) => {
      const changed = await conflictFree(() => applyCaps(deps.js, deps.jsm, deps.ns, request.body.caps));
      return {
        change: changed ? ('updated' as const) : ('unchanged' as const),
        caps: [...(await readCatalog(deps.jsm, deps.ns)).caps],
      };
    },
  );
}

async function existing(deps: MessageDeps, id: string): Promise<Message> {
  const message = await latestMessage(deps.jsm, deps.ns, id);
  if (message === undefined) throw new ApiError('not_found', `no message ${id}`);
  return message;
}

async function store(deps: MessageDeps, message: MessageInput) {
  const parsed = MessageSchema.parse(message);
  const [outcome] = await conflictFree(() => applyMessages(deps.js, deps.jsm, deps.ns, [parsed], deps.now()));
  return { change: outcome?.change ?? 'unchanged', message: await existing(deps, parsed.id) };
}

/** A write that lost a race with another writer of the same message is a 409: read it again and retry. */
async function conflictFree<T>(write: () => Promise<T>): Promise<T> {
  try {
    return await write();
  } catch (error) {
    if (error instanceof NatsError && error.api_error?.err_code === WRONG_LAST_SEQUENCE)
      throw new ApiError(
        'conflict',
        'another change to the same definition was stored first: read it again and retry',
      );
    throw error;
  }
}
