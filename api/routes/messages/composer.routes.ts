import { randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyPluginCallback } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { Facts } from '../../../pipeline/core/facts.ts';
import { needsSentOrder, usableMetadata } from '../../../pipeline/core/log-entry.ts';
import { partitionOf } from '../../../pipeline/core/partition.ts';
import { reachBlocked } from '../../../pipeline/core/reach.ts';
import { compileMessage } from '../../../pipeline/core/rule-index.ts';
import type { FlatObject } from '../../../pipeline/core/scalar.ts';
import { compileTemplate } from '../../../pipeline/core/template.ts';
import type { UserState } from '../../../pipeline/core/user-state.ts';
import { EMPTY_USER_STATE } from '../../../pipeline/core/user-state.ts';
import { orderFromText } from '../../../pipeline/json-in-sent-order.ts';
import type { Delivery } from '../../../pipeline/ports/delivery.ts';
import { TEST_SEND_PREFIX } from '../../../pipeline/ports/delivery.ts';
import type { DeliveryPublisher } from '../../../pipeline/ports/delivery-publisher.ts';
import type { StateStore } from '../../../pipeline/ports/state-store.ts';
import { ApiError } from '../../errors.ts';
import {
  Preview,
  PreviewBody,
  previewErrors,
  TestSendBody,
  TestSent,
  testSendErrors,
} from './composer.schemas.ts';

export type ComposerDeps = {
  /** Read only: a user's attributes and addresses, as the matcher has them. */
  readonly states: Pick<StateStore, 'load'>;
  readonly partitions: number;
  /** Where a test send goes: the deliveries stream the channel senders read. */
  readonly deliveries: DeliveryPublisher;
  readonly now: () => number;
};

const tags = ['messages'];

/**
 * What a person composing a message tries before launching it: the template rendered by the core
 * as a decision renders it, and a test send to one user through the channel's own sender.
 */
export const composerRoutes: FastifyPluginCallback<ComposerDeps> = (app, deps, done) => {
  preview(app, deps);
  testSend(app, deps);
  done();
};

function preview(app: FastifyInstance, deps: ComposerDeps): void {
  app.withTypeProvider<ZodTypeProvider>().post(
    '/v1/messages/preview',
    {
      onRequest: app.guard('read'),
      schema: {
        tags,
        summary: 'Render a template with an entry and a user, as a decision would',
        description:
          'The facts are built as the matcher builds them: the first 20 keys of `metadata`, `context`, and ' +
          "`user` from the user's state in Redis when `user_id` is given (`{}` otherwise). A malformed template " +
          'is a 400 naming the field (`template.body: …`), in the words of `POST /v1/messages/validate`. ' +
          'Pick an entry from `GET /v1/catalog/events/:name/recent` to render with a real one.',
        body: PreviewBody,
        response: { 200: Preview, ...previewErrors },
      },
    },
    async (request) => {
      const { template, event, user_id } = request.body;
      const user = user_id === undefined ? {} : (await stateOf(deps, user_id)).attributes;
      const facts = factsOf(request.body, request.jsonText, event ?? '', user);
      return {
        subject: template.subject === undefined ? null : compileTemplate(template.subject)(facts),
        body: compileTemplate(template.body)(facts),
        user,
      };
    },
  );
}

function testSend(app: FastifyInstance, deps: ComposerDeps): void {
  app.withTypeProvider<ZodTypeProvider>().post(
    '/v1/messages/test-send',
    {
      onRequest: app.guard('admin'),
      schema: {
        tags,
        summary: 'Send a message definition to one user now, as a test',
        description:
          "The template is rendered for the user (their attributes as the matcher has them, `{{ event.name }}` the trigger's event) " +
          "and one delivery is put on the channel's deliveries stream with `test: true`, for its sender to send as any other. " +
          'It is no decision: not on the log, not in the decisions audit, counted toward no limit; the trigger filter, audience, ' +
          'schedule and limits are not checked. Reach is, as a decision checks it: a user who opted out of the message or its channel, ' +
          'or who has no address for it (email: user.email, sms: user.phone, push: a subscription), is a 409 naming why.',
        body: TestSendBody,
        response: { 202: TestSent, ...testSendErrors },
      },
    },
    async (request, reply) => {
      const { message, user_id } = request.body;
      const compiled = compileMessage(message);
      const state = await stateOf(deps, user_id);
      const blocked = reachBlocked(compiled, state);
      if (blocked !== undefined) {
        const { reason, explanation } = blocked;
        throw new ApiError('conflict', unreachedSentence(user_id, blocked), { reason, ...explanation });
      }
      const facts = factsOf(request.body, request.jsonText, message.trigger.event, state.attributes);
      const delivery: Delivery = {
        decision_id: `${TEST_SEND_PREFIX}${message.id}/${randomUUID()}`,
        message_id: message.id,
        message_version: message.version,
        user_id,
        channel: message.channel,
        at: deps.now(),
        subject: compiled.subject === null ? null : compiled.subject(facts),
        body: compiled.body(facts),
        test: true,
      };
      try {
        await deps.deliveries.publish(delivery);
      } catch (error) {
        request.log.warn({ err: error }, 'a test send was not stored');
        throw new ApiError(
          'not_ready',
          'the deliveries stream (NATS JetStream) did not take the test send, so nothing was sent: retry',
        );
      }
      void reply.code(202);
      const { decision_id, channel, subject, body } = delivery;
      return { decision_id, channel, user_id, subject, body };
    },
  );
}

/** The user's state as the matcher has it; an empty one for a user it never saw. */
async function stateOf(deps: ComposerDeps, userId: string): Promise<UserState> {
  const loaded = await deps.states.load(partitionOf(userId, deps.partitions), [userId]);
  return loaded.states[0] ?? EMPTY_USER_STATE;
}

/** The facts `decide` builds for an entry, from the request's metadata and context. */
function factsOf(
  body: { readonly metadata?: FlatObject | undefined; readonly context?: FlatObject | undefined },
  bodyText: string,
  name: string,
  user: FlatObject,
): Facts {
  const { metadata, context } = body;
  // With an integer-like key, JavaScript moved it first: the order sent, which picks the usable 20, is read from the text.
  if (needsSentOrder(metadata)) orderFromText(metadata, bodyText, ['metadata']);
  return { name, metadata: usableMetadata(metadata), context, user };
}

function unreachedSentence(userId: string, blocked: NonNullable<ReturnType<typeof reachBlocked>>): string {
  const user = `user ${JSON.stringify(userId)}`;
  const { explanation } = blocked;
  if ('needs' in explanation)
    return `${explanation.channel} needs ${explanation.needs}, and ${user} has none: nothing was sent`;
  if (explanation.opted_out_of === 'channel')
    return `${user} opted out of ${explanation.channel} messages: nothing was sent`;
  return `${user} opted out of message ${explanation.message_id}: nothing was sent`;
}
