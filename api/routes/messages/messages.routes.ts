import type { FastifyInstance, FastifyPluginCallback } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Message, MessageInput } from '../../../pipeline/core/message-schema.ts';
import { GlobalCapListSchema, MessageSchema } from '../../../pipeline/core/message-schema.ts';
import { formatIssues, keysOf } from '../../../pipeline/core/validation.ts';
import type { MessageCatalog } from '../../../pipeline/ports/message-catalog.ts';
import { ApiError } from '../../errors.ts';
import {
  CapsBody,
  errors,
  IdParams,
  MessageBody,
  Stored,
  StoredAt,
  StoredMessage,
  UpdateBody,
} from './messages.schemas.ts';

export type MessageDeps = { readonly catalog: MessageCatalog; readonly now: () => number };

const tags = ['messages'];

/**
 * Messages and global caps over HTTP, in the same store as `nudge messages apply` (the catalog):
 * every change is a new version, running matchers use it within a second, and each decision
 * records the version it used. A write that lost a race with another writer is a 409.
 */
export const messageRoutes: FastifyPluginCallback<MessageDeps> = (app, deps, done) => {
  const store = storeOf(deps);
  reading(app, store);
  writing(app, store);
  lifecycle(app, store);
  caps(app, deps.catalog);
  done();
};

type Store = ReturnType<typeof storeOf>;

/** The message routes' use of the catalog: a message that must exist, and a definition stored as a new version. */
function storeOf({ catalog, now }: MessageDeps) {
  const existing = async (id: string): Promise<Message> => {
    const message = await catalog.latest(id);
    if (message === undefined) throw new ApiError('not_found', `no message ${id}`);
    return message;
  };
  return {
    catalog,
    existing,
    async save(message: MessageInput) {
      const parsed = MessageSchema.parse(message);
      const [outcome] = await catalog.apply([parsed], now());
      return { change: outcome?.change ?? 'unchanged', message: await existing(parsed.id) };
    },
  };
}

function reading(app: FastifyInstance, store: Store): void {
  const routes = app.withTypeProvider<ZodTypeProvider>();
  routes.get(
    '/v1/messages',
    {
      onRequest: app.guard('read'),
      schema: {
        tags,
        summary: 'The latest version of every message, with when each last changed',
        description:
          "`stored_at[i]` is when `messages[i]` was stored (ms, the catalog's clock): when that message last " +
          'changed (an edit, a launch, a pause or a stop). Beside the definitions rather than in them, so a ' +
          'definition read here can be sent back to `PUT /v1/messages/:id` as it is.',
        response: { 200: z.object({ messages: z.array(StoredMessage), stored_at: StoredAt }), ...errors },
      },
    },
    async () => {
      const { messages, stored_at } = await store.catalog.read();
      return { messages: [...messages], stored_at: [...stored_at] };
    },
  );
  routes.get(
    '/v1/messages/:id',
    {
      onRequest: app.guard('read'),
      schema: {
        tags,
        summary: 'A message, latest version',
        params: IdParams,
        response: { 200: z.object({ message: StoredMessage }), ...errors },
      },
    },
    async (request) => ({ message: await store.existing(request.params.id) }),
  );
  routes.get(
    '/v1/messages/:id/versions',
    {
      onRequest: app.guard('read'),
      schema: {
        tags,
        summary: 'Every version of a message, oldest first, with when each was stored',
        description:
          "`stored_at[i]` is when `versions[i]` was stored (ms, the catalog's clock), beside the definitions " +
          'so that each can be sent back to `PUT /v1/messages/:id` as it is.',
        params: IdParams,
        response: { 200: z.object({ versions: z.array(StoredMessage), stored_at: StoredAt }), ...errors },
      },
    },
    async (request) => {
      await store.existing(request.params.id);
      return await store.catalog.versions(request.params.id);
    },
  );
  routes.post(
    '/v1/messages/validate',
    {
      onRequest: app.guard('read'),
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
}

function writing(app: FastifyInstance, store: Store): void {
  const routes = app.withTypeProvider<ZodTypeProvider>();
  routes.post(
    '/v1/messages',
    {
      onRequest: app.guard('admin'),
      schema: {
        tags,
        summary: 'Create a message (version 1)',
        body: MessageBody,
        response: { 201: Stored, ...errors },
      },
    },
    async (request, reply) => {
      if ((await store.catalog.latest(request.body.id)) !== undefined)
        throw new ApiError(
          'conflict',
          `message ${request.body.id} exists: PUT /v1/messages/${request.body.id} stores a new version`,
        );
      void reply.code(201);
      return store.save(request.body);
    },
  );
  routes.put(
    '/v1/messages/:id',
    {
      onRequest: app.guard('admin'),
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
      await store.existing(id);
      return store.save({ ...request.body, id });
    },
  );
  routes.delete(
    '/v1/messages/:id',
    {
      onRequest: app.guard('admin'),
      schema: {
        tags,
        summary: 'Delete a draft (every version of it)',
        params: IdParams,
        response: { 204: z.null().describe('deleted'), ...errors },
      },
    },
    async (request, reply) => {
      const { id } = request.params;
      await store.existing(id);
      const { versions } = await store.catalog.versions(id);
      if (versions.some((v) => v.state !== 'draft'))
        throw new ApiError(
          'conflict',
          `message ${id} has been launched: decisions name its versions, so it can only be stopped`,
        );
      await store.catalog.purge(id);
      void reply.code(204);
      return null;
    },
  );
}

/** Launch, pause, stop: a new version in the new state. */
function lifecycle(app: FastifyInstance, store: Store): void {
  const routes = app.withTypeProvider<ZodTypeProvider>();
  const transitions = { launch: 'live', pause: 'paused', stop: 'stopped' } as const;
  for (const [action, state] of Object.entries(transitions)) {
    routes.post(
      `/v1/messages/:id/${action}`,
      {
        onRequest: app.guard('admin'),
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
        const current = await store.existing(request.params.id);
        if (current.state === state) return { change: 'unchanged' as const, message: current };
        // Without live_since, the store sets it: now for a launch, none for a pause or a stop.
        return store.save({ ...current, state, live_since: undefined });
      },
    );
  }
}

function caps(app: FastifyInstance, catalog: MessageCatalog): void {
  const routes = app.withTypeProvider<ZodTypeProvider>();
  routes.get(
    '/v1/caps',
    {
      onRequest: app.guard('read'),
      schema: { tags, summary: 'The global caps in force', response: { 200: CapsBody, ...errors } },
    },
    async () => ({ caps: [...(await catalog.read()).caps] }),
  );
  routes.put(
    '/v1/caps',
    {
      onRequest: app.guard('admin'),
      schema: {
        tags,
        summary: 'Replace the global caps (a new version)',
        body: z.object({ caps: GlobalCapListSchema }),
        response: { 200: CapsBody.extend({ change: z.enum(['updated', 'unchanged']) }), ...errors },
      },
    },
    async (request) => {
      const changed = await catalog.applyCaps(request.body.caps);
      return {
        change: changed ? ('updated' as const) : ('unchanged' as const),
        caps: [...(await catalog.read()).caps],
      };
    },
  );
}
