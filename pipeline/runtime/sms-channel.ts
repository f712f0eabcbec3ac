import { partitionOf } from '../core/partition.ts';
import { addressOf } from '../core/user-state.ts';
import type { ChannelSend } from '../ports/channel.ts';
import type { SmsProvider } from '../ports/sms-provider.ts';
import type { StateStore } from '../ports/state-store.ts';

export type SmsChannelOptions = {
  /** The matcher's user states, read only: never acquired, never committed to. */
  readonly states: StateStore;
  /** The log's partition count, which places each user's state. */
  readonly partitions: number;
  readonly provider: SmsProvider;
};

/**
 * The `sms` channel: each delivery goes to the user's `phone` attribute (set by `identify`), as
 * the user's state holds it when the delivery is sent, so a changed number is used at once. A user
 * without one (no state, no attribute, or not a non-empty string) is a permanent failure, `no phone
 * number`, and the provider is not asked: trying again would not find one. The core is to suppress
 * these sends as `unreachable` before they are made; until then they end here.
 */
export function smsChannel({ states, partitions, provider }: SmsChannelOptions): ChannelSend {
  return async (delivery) => {
    const loaded = await states.load(partitionOf(delivery.user_id, partitions), [delivery.user_id]);
    const phone = addressOf(loaded.states[0]?.attributes ?? {}, 'sms');
    if (phone === undefined) return { result: 'permanent', status: 0, reason: 'no phone number' };
    return provider.send(delivery, phone);
  };
}
