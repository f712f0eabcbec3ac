import { createHash } from 'node:crypto';
import type { PushSubscription, PushSubscriptionEntry } from '../core/log-entry.ts';
import { partitionOf } from '../core/partition.ts';
import type { ChannelSend, SendResult } from '../ports/channel.ts';
import type { Delivery } from '../ports/delivery.ts';
import type { Pusher, PushResult, SubscriptionRemoval } from '../ports/push.ts';
import type { StateStore } from '../ports/state-store.ts';

export type PushChannelOptions = {
  /** The matcher's user states, read only: never acquired, never committed to. */
  readonly states: StateStore;
  /** The log's partition count, which places each user's state. */
  readonly partitions: number;
  readonly pusher: Pusher;
  /** Writes a removal of a subscription the push service says is gone to the log. */
  readonly removeSubscription: SubscriptionRemoval;
  /** The clock removals are stamped with (`received_at`). */
  readonly now: () => number;
  /** Told of a removal that could not be written (it is written again the next time the subscription answers gone). */
  readonly report?: (line: string) => void;
};

/**
 * The `push` channel: each delivery goes to every Web Push subscription in the user's state when
 * it is sent (`push_subscription` entries, so one added a moment ago is used at once), and is
 * delivered when at least one push service took it. A subscription the push service says is gone
 * (404, 410) is removed through the log, with an entry whose id is made from the decision and the
 * endpoint, so a removal written again (the delivery retried) is a repeat the matcher drops. When
 * none took it: transient if one may still (it is tried again, and none had it), else permanent.
 * A user without a subscription is a permanent failure; the core is to suppress these sends as
 * `unreachable` before they are made.
 */
export function pushChannel(options: PushChannelOptions): ChannelSend {
  const { states, partitions, pusher } = options;
  return async (delivery) => {
    const loaded = await states.load(partitionOf(delivery.user_id, partitions), [delivery.user_id]);
    const subscriptions = loaded.states[0]?.push ?? [];
    if (subscriptions.length === 0) return { result: 'permanent', status: 0, reason: 'no push subscription' };
    const results = await Promise.all(subscriptions.map((s) => pusher.push(delivery, s)));
    const gone = subscriptions.filter((_, i) => results[i]?.result === 'gone');
    if (gone.length > 0) await removeGone(options, delivery, gone);
    return combined(results);
  };
}

async function removeGone(
  { removeSubscription, now, report }: PushChannelOptions,
  delivery: Delivery,
  gone: readonly PushSubscription[],
): Promise<void> {
  const at = now();
  for (const subscription of gone) {
    const entry = removalEntry(delivery, subscription, at);
    // A removal not written costs a later push to a dead endpoint, which is gone again and
    // writes it then; failing the delivery instead would push again to the subscriptions that took it.
    await removeSubscription(entry).catch((error: unknown) => {
      report?.(`push ${delivery.decision_id}: removal ${entry.id} not written (${(error as Error).message})`);
    });
  }
}

/** The log entry removing a subscription that is gone: its id is the same however often it is made for this decision. */
export function removalEntry(
  delivery: Delivery,
  subscription: PushSubscription,
  at: number,
): PushSubscriptionEntry {
  const endpoint = createHash('sha256').update(subscription.endpoint).digest('hex').slice(0, 16);
  return {
    type: 'push_subscription',
    id: `push-gone:${delivery.decision_id}:${endpoint}`,
    user_id: delivery.user_id,
    received_at: at,
    action: 'remove',
    subscription: { endpoint: subscription.endpoint, keys: subscription.keys },
  };
}

/** One result for the delivery from those of its subscriptions (in the order of the state). */
function combined(results: readonly PushResult[]): SendResult {
  const delivered = results.find((r) => r.result === 'delivered');
  if (delivered !== undefined) return delivered;
  const failures = results.filter((r) => r.result !== 'delivered');
  const transient = failures.find((r) => r.result === 'transient');
  const first = transient ?? failures[0];
  if (first === undefined) return { result: 'permanent', status: 0, reason: 'no push subscription' };
  const others = failures.length - 1;
  const reason =
    others === 0
      ? first.reason
      : `${first.reason} (and ${others} more subscription${others === 1 ? '' : 's'})`;
  return { result: transient === undefined ? 'permanent' : 'transient', status: first.status, reason };
}
