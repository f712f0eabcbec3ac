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
      return `sent: every rule passed at ${instant(decision.at)}`;
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
      const { local_day, local_time, timezone, opens_at, zone_from, fallback_because } = decision.explanation;
      const next = opens_at === null ? 'it never opens' : `it opens again at ${instant(opens_at)}`;
      const zone =
        zone_from === undefined
          ? timezone
          : zone_from === 'user'
            ? `${timezone} (the user's timezone)`
            : `${timezone} (the fallback: ${fallback_because === 'missing' ? 'the user has no timezone' : "the user's timezone is not an IANA name"})`;
      return `suppressed by the schedule: it was ${local_day} ${local_time} in ${zone}, outside the window; ${next}`;
    }
    case 'max_sends': {
      const { sends, max_sends } = decision.explanation;
      return `suppressed: already sent ${sends} time${sends === 1 ? '' : 's'} to this user, and max_sends is ${max_sends}; it will not be sent again`;
    }
    case 'min_interval': {
      const { last_sent_at, min_interval, eligible_at } = decision.explanation;
      return `suppressed: last sent at ${instant(last_sent_at)}, less than the minimum interval of ${formatDuration(min_interval)} before; eligible again at ${instant(eligible_at)}`;
    }
    case 'global_cap': {
      const { cap, sends_in_window, eligible_at } = decision.explanation;
      const scope = cap.channel === undefined ? 'messages' : `${cap.channel} messages`;
      const next =
        eligible_at === null
          ? 'this cap never lets a send through'
          : `eligible again at ${instant(eligible_at)}`;
      return `suppressed by the global cap of ${cap.max} ${scope} per ${formatDuration(cap.per)}: ${sends_in_window} already sent in that window; ${next}`;
    }
  }
}

export function describeFailure(failure: ConditionFailure): string {
  if ('any' in failure) return `none of these held: ${failure.any.map(describeFailure).join('; ')}`;
  const seen = failure.actual === undefined ? 'missing' : JSON.stringify(failure.actual);
  const wanted = failure.value === undefined ? '' : ` ${JSON.stringify(failure.value)}`;
  return `${failure.field} was ${seen}, expected ${OP_TEXT[failure.op] ?? failure.op}${wanted}`;
}
