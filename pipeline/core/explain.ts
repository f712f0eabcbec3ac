import type { ConditionFailure } from './condition.ts';
import type { Decision } from './decision.ts';
import { formatDuration } from './duration.ts';

const OP_TEXT: Record<string, string> = {
  eq: '=',
  neq: '≠',
  gt: '>',
  gte: '≥',
  lt: '<',
  lte: '≤',
  contains: 'to contain',
  not_contains: 'not to contain',
  starts_with: 'to start with',
  ends_with: 'to end with',
  in: 'one of',
  not_in: 'none of',
  exists: 'to be present',
  not_exists: 'to be missing',
};

const instant = (ms: number) => new Date(ms).toISOString();

/** The sentence a person reads for a decision ("why did / didn't this user get this message?"). */
export function explain(decision: Decision): string {
  switch (decision.reason) {
    case null:
      return decision.deliver_at === undefined
        ? `sent: every rule passed at ${instant(decision.at)}`
        : `sent, held for the schedule: it comes outside the window, and every rule passes for its delivery at ${instant(decision.deliver_at)}`;
    case 'event_filter':
      return `filtered by the trigger's conditions: ${describeFailure(decision.explanation)}`;
    case 'audience':
      return `filtered by the audience: ${describeFailure(decision.explanation)}`;
    case 'unsubscribed':
      return decision.explanation.opted_out_of === 'message'
        ? `suppressed: the user opted out of this message (${decision.explanation.message_id})`
        : `suppressed: the user opted out of ${decision.explanation.channel} messages, and this one is not transactional`;
    case 'unreachable': {
      const { channel, needs } = decision.explanation;
      return channel === 'push'
        ? 'suppressed: the user has no push subscription, so a push cannot reach them'
        : `suppressed: the user has no ${channel === 'email' ? 'email address' : 'phone number'} (${needs}), so ${channel === 'email' ? 'an email' : 'an SMS'} cannot reach them`;
    }
    case 'schedule': {
      const { local_day, local_time, timezone, opens_at, zone_from, fallback_because, defer_max } =
        decision.explanation;
      const next =
        defer_max === undefined
          ? opens_at === null
            ? 'it never opens'
            : `it opens again at ${instant(opens_at)}`
          : opens_at === null
            ? 'it never opens, so the send cannot be held for it'
            : `it opens again at ${instant(opens_at)}, later than defer_max (${formatDuration(defer_max)}) allows a send to be held`;
      const zone =
        zone_from === undefined
          ? timezone
          : zone_from === 'user'
            ? `${timezone} (the user's timezone)`
            : `${timezone} (the fallback: ${fallback_because === 'missing' ? 'the user has no timezone' : "the user's timezone is not an IANA name"})`;
      return `suppressed by the schedule: it was ${local_day} ${local_time} in ${zone}, outside the window; ${next}`;
    }
    case 'max_sends': {
      const { sends, max_sends, deferred_to } = decision.explanation;
      return `suppressed${heldFor(deferred_to)}: already sent ${sends} time${sends === 1 ? '' : 's'} to this user, and max_sends is ${max_sends}; it will not be sent again`;
    }
    case 'min_interval': {
      const { last_sent_at, min_interval, eligible_at, deferred_to } = decision.explanation;
      const when = deferred_to ?? decision.at;
      const last =
        last_sent_at > when
          ? `a send is due at ${instant(last_sent_at)}, and this one would come before it`
          : `last sent at ${instant(last_sent_at)}, less than the minimum interval of ${formatDuration(min_interval)} before`;
      return `suppressed${heldFor(deferred_to)}: ${last}; eligible again at ${instant(eligible_at)}`;
    }
    case 'global_cap': {
      const { cap, sends_in_window, eligible_at, deferred_to } = decision.explanation;
      const scope = cap.channel === undefined ? 'messages' : `${cap.channel} messages`;
      const next =
        eligible_at === null
          ? 'this cap never lets a send through'
          : `eligible again at ${instant(eligible_at)}`;
      return `suppressed${heldFor(deferred_to)} by the global cap of ${cap.max} ${scope} per ${formatDuration(cap.per)}: ${sends_in_window} already sent in that window; ${next}`;
    }
  }
}

/** For a limit checked for a send held for its schedule: when it would have been delivered. */
const heldFor = (deferredTo: number | undefined) =>
  deferredTo === undefined ? '' : ` (outside the schedule, checked for delivery at ${instant(deferredTo)})`;

export function describeFailure(failure: ConditionFailure): string {
  if ('any' in failure) return `none of these held: ${failure.any.map(describeFailure).join('; ')}`;
  const seen = failure.actual === undefined ? 'missing' : JSON.stringify(failure.actual);
  const wanted = failure.value === undefined ? '' : ` ${JSON.stringify(failure.value)}`;
  return `${failure.field} was ${seen}, expected ${OP_TEXT[failure.op] ?? failure.op}${wanted}`;
}
