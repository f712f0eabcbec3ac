import { partitionOf } from '../core/partition.ts';
import { addressOf } from '../core/user-state.ts';
import type { ChannelSend, Mailer } from '../ports/channel.ts';
import type { StateStore } from '../ports/state-store.ts';

export type EmailChannelOptions = {
  /** The matcher's user states, read only: never acquired, never committed to. */
  readonly states: StateStore;
  /** The log's partition count, which places each user's state. */
  readonly partitions: number;
  readonly mailer: Mailer;
};

/**
 * The `email` channel: each delivery goes to the user's `email` attribute (set by `identify`), as
 * the user's state holds it when the delivery is sent, so a changed address is used at once. A
 * user without one (no state, no attribute, or not a non-empty string) is a permanent failure:
 * trying again would not find one. The core is to suppress these sends as `unreachable` before
 * they are made; until then they end here.
 */
export function emailChannel({ states, partitions, mailer }: EmailChannelOptions): ChannelSend {
  return async (delivery) => {
    const loaded = await states.load(partitionOf(delivery.user_id, partitions), [delivery.user_id]);
    const email = addressOf(loaded.states[0]?.attributes ?? {}, 'email');
    if (email === undefined) return { result: 'permanent', status: 0, reason: 'no email address' };
    return mailer.send(delivery, email);
  };
}
