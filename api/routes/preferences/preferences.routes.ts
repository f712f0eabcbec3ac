import { randomUUID } from 'node:crypto';
import fastifyCors from '@fastify/cors';
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { z } from 'zod';
import type { PreferencesEntry } from '../../../pipeline/core/log-entry.ts';
import { CHANNELS } from '../../../pipeline/core/message-schema.ts';
import type { Channel } from '../../../pipeline/core/message-schema.ts';
import { partitionOf } from '../../../pipeline/core/partition.ts';
import type { UserState } from '../../../pipeline/core/user-state.ts';
import type { EntryLog } from '../../../pipeline/ports/entry-log.ts';
import type { ClientSecrets } from '../../../pipeline/ports/key-store.ts';
import type { StateStore } from '../../../pipeline/ports/state-store.ts';
import { allows } from '../../auth/api-keys.ts';
import { appendEntry } from '../../append-entry.ts';
import { ApiError } from '../../errors.ts';
import { clientCors } from '../client/client-cors.ts';
import { userVerifier } from '../client/verified-user.ts';
import {
  errors,
  PreferencesAcceptedSchema,
  PreferencesChangeSchema,
  PreferencesSchema,
  UserParams,
} from './preferences.schemas.ts';

export type PreferencesDeps = {
  /** Where the `preferences` entries go: the matcher applies them to the user's state. */
  readonly log: EntryLog;
  /** Read only: the choices as the matcher applied them. */
  readonly states: Pick<StateStore, 'load'>;
  readonly partitions: number;
  readonly clientSecrets: ClientSecrets;
  /** Origins pages may call from; empty: any. */
  readonly clientOrigins: readonly string[];
  /** The API's clock: `received_at` of the entries. */
  readonly now: () => number;
};

const SECURITY = [{ apiKey: [] }];
const CHANNEL_SET: ReadonlySet<string> = new Set(CHANNELS);
const isChannel = (name: string): name is Channel => CHANNEL_SET.has(name);

/**
 * A user's preferences (README "Preferences"): read from the user's state as the matcher applied
 * it, changed by a `preferences` entry on the log, so live decisions and a replay of the log see
 * the same choices at the same place. Called by a server with an `admin` key, or by a page with
 * its `client` key for the user its hash proves (and no other): the one route outside
 * `/v1/client` a client key reaches, since a person's choices are theirs to read and make.
 * Registered under the `/v1/users` prefix, which its CORS preflights answer for.
 */
export const preferencesRoutes: FastifyPluginAsync<PreferencesDeps> = async (app, deps) => {
  await app.register(fastifyCors, clientCors(deps.clientOrigins, ['GET', 'PUT']));
  const verified = userVerifier(deps.clientSecrets);
  // Before the body is read, as every key check is: a page learns nothing of another user.
  const ownUserOrAdmin = async (request: FastifyRequest): Promise<void> => {
    if (request.apiKey !== null && allows(request.apiKey, 'admin')) return;
    const user = await verified(request);
    const path = pathUser(request.params);
    if (user !== path)
      throw new ApiError(
        'forbidden',
        `a client key reaches its own user's preferences only: X-Nudge-User-Id is ${JSON.stringify(user)}, the path names ${JSON.stringify(path)}`,
      );
  };
  const checks = [app.guard(['admin', 'client']), ownUserOrAdmin];
  const routes = app.withTypeProvider<ZodTypeProvider>();

  routes.get(
    '/:id/preferences',
    {
      onRequest: checks,
      schema: {
        tags: ['preferences'],
        summary: "A user's opt-outs: the channels and messages set to false",
        description:
          "From the user's state in Redis, as the matcher applied the preferences entries: a PUT is " +
          'reflected here once the matcher applied it, within about a second. A user with no state has ' +
          'opted out of nothing. An admin key, or a client key with the headers of this very user.',
        security: SECURITY,
        params: UserParams,
        response: { 200: PreferencesSchema, ...errors },
      },
    },
    async (request) => {
      const userId = request.params.id;
      return { user_id: userId, ...optOuts(await stateOf(deps, userId)) };
    },
  );

  routes.put(
    '/:id/preferences',
    {
      onRequest: checks,
      schema: {
        tags: ['preferences'],
        summary: "Change a user's preferences (a preferences entry on the log)",
        description:
          'false opts out of a channel or a message, true or null opts back in; what the body leaves out is ' +
          'unchanged. Answers 202 once the log stored the entry; the matcher applies it to the user within ' +
          'about a second, and from then on a send the user opted out of is suppressed as `unsubscribed` ' +
          '(a channel opt-out spares transactional messages: `global_cap_exempt`).',
        security: SECURITY,
        params: UserParams,
        body: PreferencesChangeSchema,
        response: { 202: PreferencesAcceptedSchema, ...errors },
      },
    },
    async (request, reply) => {
      const entry: PreferencesEntry = {
        type: 'preferences',
        id: randomUUID(),
        user_id: request.params.id,
        received_at: deps.now(),
        channels: request.body.channels ?? {},
        messages: request.body.messages ?? {},
      };
      await appendEntry(deps.log, entry);
      void reply.code(202);
      return { id: entry.id, preferences: { channels: entry.channels, messages: entry.messages } };
    },
  );
};

/** The user the path names, before the schema has checked it (a hook runs first). */
function pathUser(params: unknown): string | undefined {
  if (typeof params !== 'object' || params === null || !('id' in params)) return undefined;
  return typeof params.id === 'string' ? params.id : undefined;
}

async function stateOf(deps: PreferencesDeps, userId: string): Promise<UserState | undefined> {
  try {
    const loaded = await deps.states.load(partitionOf(userId, deps.partitions), [userId]);
    return loaded.states[0];
  } catch {
    // The service's own message stays in our logs: it names hosts.
    throw new ApiError('not_ready', 'the user states (Redis) did not answer: retry');
  }
}

type OptOuts = Omit<z.output<typeof PreferencesSchema>, 'user_id'>;

/** `channel:<channel>` and `message:<id>` of the state's opt-outs, as the answer lists them. */
function optOuts(state: UserState | undefined): OptOuts {
  const channels: [Channel, false][] = [];
  const messages: [string, false][] = [];
  for (const optout of state?.optouts ?? []) {
    const [kind, ...rest] = optout.split(':');
    const name = rest.join(':');
    if (kind === 'channel' && isChannel(name)) channels.push([name, false]);
    else if (kind === 'message' && name !== '') messages.push([name, false]);
  }
  // fromEntries defines own properties: a message id such as "__proto__" stays data.
  return { channels: Object.fromEntries(channels), messages: Object.fromEntries(messages) };
}
