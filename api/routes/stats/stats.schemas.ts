import { z } from 'zod';
import type { InstantInput } from '../../../pipeline/core/instant.ts';
import { InstantSchema, resolveInstant } from '../../../pipeline/core/instant.ts';
import { CHANNELS, MessageIdSchema } from '../../../pipeline/core/message-schema.ts';
import { TOP_FAILURE_REASONS } from '../../../pipeline/ports/audit-reader.ts';
import { ApiError } from '../../errors.ts';

const WEEK = 7 * 86_400_000;

/** The range and filters every stats route takes. */
export const RangeQuery = z.strictObject({
  from: InstantSchema.optional().describe('start of the range (included); default: 7 days before `to`'),
  to: InstantSchema.optional().describe('end of the range (excluded); default: now'),
  message: MessageIdSchema.optional().describe('only this message'),
  channel: z.enum(CHANNELS).optional().describe('only messages of this channel'),
});

/** The range asked for, with its defaults: `to` now, `from` a week before `to`; a 400 unless `from < to`. */
export function resolveRange(
  query: { from?: InstantInput | undefined; to?: InstantInput | undefined },
  now: number,
) {
  const to = query.to === undefined ? now : resolveInstant(query.to, now);
  const from = query.from === undefined ? Math.max(0, to - WEEK) : resolveInstant(query.from, now);
  if (from >= to) throw new ApiError('invalid_request', `from: must be before to (from ${from}, to ${to})`);
  return { from, to };
}

const Range = { from: z.int(), to: z.int() };
const Counts = z.record(z.string(), z.int());

export const Summary = z
  .object({
    ...Range,
    decisions: z.int(),
    sent: z.int(),
    suppressed: z.int(),
    filtered: z.int(),
    reasons: Counts.describe('suppressed and filtered decisions by reason'),
    users_decided: z.int().describe('users with at least one decision'),
    users_reached: z.int().describe('users who were sent at least one message'),
  })
  .meta({ id: 'StatsSummary' });

export const Series = z
  .object({
    ...Range,
    bucket: z.string(),
    by: z.string(),
    points: z.array(
      z.object({
        at: z.int().describe('start of the bucket, ms (UTC)'),
        key: z.string().describe('the value of `by` ("" is the reason of a send)'),
        decisions: z.int(),
      }),
    ),
  })
  .meta({ id: 'StatsSeries' });

export const Messages = z
  .object({
    ...Range,
    messages: z.array(
      z.object({
        message_id: z.string(),
        channel: z.string(),
        triggered: z.int().describe('entries it was a candidate for (one decision each)'),
        passed_filters: z.int().describe('of those, not filtered out by its trigger filter or audience'),
        sent: z.int(),
        delivered: z
          .int()
          .describe(
            "sends its channel's sender delivered, by when it reported (delivery_outcomes); 0 where no sender runs",
          ),
        failed: z.int().describe('sends its sender gave up on, for good or after its last try'),
        failed_reasons: z
          .array(z.object({ reason: z.string(), failed: z.int() }))
          .describe(
            `the commonest reasons of \`failed\` as the channel gave them (at most ${TOP_FAILURE_REASONS}), most first; ` +
              '"" for failures recorded before reasons were',
          ),
        cancelled: z
          .int()
          .describe(
            'sends held for their schedule (`schedule.outside: "defer"`) never delivered: the message was paused or stopped before they were due; counted by when that was recorded',
          ),
        seen: z
          .int()
          .describe(
            'sends shown to their user, each once, reported in the range: in-app channels (in the page or the inbox), ' +
              'email (opened: its image loaded, a lower bound where images are blocked and an upper one behind privacy proxies) ' +
              "and push (the notification shown by the SDK's service worker); 0 for other channels",
          ),
        clicked: z
          .int()
          .describe(
            'sends their user acted on, each once: in-app channels and push (the notification clicked); 0 for others',
          ),
        dismissed: z
          .int()
          .describe('in-app channels: sends their user closed, each once; 0 for other channels'),
        suppressed: Counts.describe(
          'suppressed decisions by reason, among them `unsubscribed` (the user opted out) and `unreachable` (no address for the channel)',
        ),
        filtered: Counts,
        users_reached: z.int(),
      }),
    ),
  })
  .meta({ id: 'StatsMessages' });

export const Frequency = z
  .object({
    ...Range,
    histogram: z.array(z.object({ sends: z.int(), user_days: z.int() })),
  })
  .meta({ id: 'StatsFrequency' });

export const Deliveries = z
  .object({
    ...Range,
    outcomes: z.array(
      z.object({
        channel: z.string(),
        outcome: z.string(),
        deliveries: z.int(),
        latency_ms: z.object({ p50: z.number(), p90: z.number(), p99: z.number() }),
      }),
    ),
  })
  .meta({ id: 'StatsDeliveries' });

const Group = z.object({ users: z.int(), converted: z.int(), rate: z.number().nullable() });

export const Goals = z
  .object({
    ...Range,
    goals: z.array(
      z.object({
        message_id: z.string(),
        goal: z.object({ event: z.string(), within: z.int() }),
        sent: Group.describe('users sent the message in the range'),
        not_sent: Group.describe('users it was decided for, never sent in the range'),
      }),
    ),
  })
  .meta({ id: 'StatsGoals' });
