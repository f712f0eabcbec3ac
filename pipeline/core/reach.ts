import type { Verdict } from './decision.ts';
import type { CompiledMessage } from './rule-index.ts';
import type { UserState } from './user-state.ts';
import { ADDRESS_OF, hasAddress, optedOut } from './user-state.ts';

type ReachBlocked = Extract<Verdict, { reason: 'unsubscribed' | 'unreachable' }>;

/**
 * The two checks right after the audience (DESIGN §4): `unsubscribed` when the user opted out of
 * the message, or of its channel unless the message is transactional (exempt from the global
 * caps); then `unreachable` when the user's state has no address for the channel. Shared by
 * `decide` and `eligibility`, so both answer alike.
 */
export function reachBlocked(message: CompiledMessage, state: UserState): ReachBlocked | undefined {
  const optOut = optedOut(state, message.id, message.channel, !message.counts_toward_caps);
  if (optOut !== undefined)
    return {
      outcome: 'suppressed',
      reason: 'unsubscribed',
      content: null,
      explanation:
        optOut === 'message'
          ? { opted_out_of: 'message', message_id: message.id }
          : { opted_out_of: 'channel', channel: message.channel },
    };
  if (!hasAddress(state, message.channel))
    return {
      outcome: 'suppressed',
      reason: 'unreachable',
      content: null,
      explanation: { channel: message.channel, needs: ADDRESS_OF[message.channel] ?? message.channel },
    };
  return undefined;
}
