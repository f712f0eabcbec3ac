import type { CompiledCaps, RecentList } from './caps.ts';
import { checkCaps } from './caps.ts';
import type { Verdict } from './decision.ts';
import type { CompiledMessage } from './rule-index.ts';
import type { SendsList } from './user-state.ts';
import { findSends, lastSentAt, sendCount } from './user-state.ts';

export type LimitBlocked = Extract<Verdict, { reason: 'max_sends' | 'min_interval' | 'global_cap' }>;

/**
 * The three limits of DESIGN §4, in order, for a send delivered at `at`: `max_sends`, then
 * `min_interval` from the message's latest send (a send held for later included: a send before
 * it waits until `min_interval` after it, so the check needs one time per message), then the
 * global caps over `recent`, which holds the sends held for later at their delivery times.
 * Shared by `decide` and `eligibility`, so both answer alike. `deferredTo` marks the explanation
 * of a check made for a send held for its schedule.
 */
export function limitBlocked(
  message: CompiledMessage,
  sends: SendsList,
  recent: RecentList,
  caps: CompiledCaps,
  at: number,
  deferredTo?: number,
): LimitBlocked | undefined {
  const slot = findSends(sends, message.id);
  const count = sendCount(sends, slot);
  const deferred = deferredTo === undefined ? undefined : { deferred_to: deferredTo };
  if (message.max_sends !== null && count >= message.max_sends)
    return {
      outcome: 'suppressed',
      reason: 'max_sends',
      content: null,
      explanation: { sends: count, max_sends: message.max_sends, ...deferred },
    };
  if (slot >= 0 && message.min_interval > 0 && at - lastSentAt(sends, slot) < message.min_interval) {
    const last_sent_at = lastSentAt(sends, slot);
    return {
      outcome: 'suppressed',
      reason: 'min_interval',
      content: null,
      explanation: {
        last_sent_at,
        min_interval: message.min_interval,
        eligible_at: last_sent_at + message.min_interval,
        ...deferred,
      },
    };
  }
  if (message.counts_toward_caps) {
    const capped = checkCaps(caps, message.channel, recent, at);
    if (capped !== undefined)
      return {
        outcome: 'suppressed',
        reason: 'global_cap',
        content: null,
        explanation: { ...capped, ...deferred },
      };
  }
  return undefined;
}
