import { z } from 'zod';
import { DurationSchema } from './duration.ts';
import { FieldSchema } from './facts.ts';
import { templateProblem } from './template.ts';
import { requiredOr } from './validation.ts';

export const CHANNELS = [
  'chat',
  'post',
  'email',
  'push',
  'sms',
  'banner',
  'carousel',
  'tour',
  'survey',
  'webhook',
] as const;
export type Channel = (typeof CHANNELS)[number];

export const MESSAGE_STATES = ['draft', 'live', 'paused', 'stopped'] as const;
export type MessageState = (typeof MESSAGE_STATES)[number];

export const OPS = [
  'eq',
  'neq',
  'gt',
  'gte',
  'lt',
  'lte',
  'contains',
  'not_contains',
  'starts_with',
  'ends_with',
  'in',
  'not_in',
  'exists',
  'not_exists',
] as const;
export type Op = (typeof OPS)[number];

export const DAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] as const;
export type Day = (typeof DAYS)[number];

const oneOf = (what: string, allowed: readonly string[]) => (issue: { input?: unknown }) =>
  issue.input === undefined
    ? `required: one of ${allowed.join(', ')}`
    : `unknown ${what} ${JSON.stringify(issue.input)}: use one of ${allowed.join(', ')}`;

export type ConditionScalar = string | number | boolean;
export type ConditionValue = ConditionScalar | readonly ConditionScalar[];
export type ConditionLeaf = { readonly field: string; readonly op: Op; readonly value?: ConditionValue };
export type Condition =
  ConditionLeaf | { readonly all: readonly Condition[] } | { readonly any: readonly Condition[] };

const NUMERIC_OPS: ReadonlySet<Op> = new Set(['gt', 'gte', 'lt', 'lte']);
const STRING_OPS: ReadonlySet<Op> = new Set(['contains', 'not_contains', 'starts_with', 'ends_with']);
const LIST_OPS: ReadonlySet<Op> = new Set(['in', 'not_in']);
const PRESENCE_OPS: ReadonlySet<Op> = new Set(['exists', 'not_exists']);
const isConditionScalar = (v: unknown): v is ConditionScalar =>
  typeof v === 'string' || typeof v === 'boolean' || (typeof v === 'number' && Number.isFinite(v));

/** Why `value` does not fit `op`, or undefined when it does. */
function valueProblem(op: Op, value: unknown): string | undefined {
  const shown = JSON.stringify(value);
  if (PRESENCE_OPS.has(op)) return value === undefined ? undefined : `"${op}" takes no value`;
  if (value === undefined) return `"${op}" needs a value`;
  if (NUMERIC_OPS.has(op))
    return typeof value === 'number' ? undefined : `"${op}" compares numbers only, got ${shown}`;
  if (STRING_OPS.has(op))
    return typeof value === 'string' ? undefined : `"${op}" takes a string, got ${shown}`;
  if (LIST_OPS.has(op)) {
    return Array.isArray(value) && value.every(isConditionScalar)
      ? undefined
      : `"${op}" takes a list of strings, numbers or booleans, got ${shown}`;
  }
  return isConditionScalar(value) ? undefined : `"${op}" takes a string, number or boolean, got ${shown}`;
}

const ConditionLeafSchema = z
  .strictObject({
    field: FieldSchema,
    op: z.enum(OPS, { error: oneOf('op', OPS) }),
    value: z
      .union([z.string(), z.number(), z.boolean(), z.array(z.union([z.string(), z.number(), z.boolean()]))])
      .optional(),
  })
  .superRefine((leaf, ctx) => {
    const problem = valueProblem(leaf.op, leaf.value);
    if (problem !== undefined) ctx.addIssue({ code: 'custom', path: ['value'], message: problem });
  });

export const ConditionSchema: z.ZodType<Condition> = z
  .lazy(
    () =>
      z.union([
        ConditionLeafSchema,
        z.strictObject({ all: z.array(ConditionSchema).min(1, 'a group needs at least one condition') }),
        z.strictObject({ any: z.array(ConditionSchema).min(1, 'a group needs at least one condition') }),
      ]),
    // Named, so that the OpenAPI document refers to the one recursive schema by a name it defines.
  )
  .meta({ id: 'Condition' });

const CLOCK = /^(?:[01]\d|2[0-3]):[0-5]\d$|^24:00$/;
const clockMinutes = (text: string) => Number(text.slice(0, 2)) * 60 + Number(text.slice(3, 5));

function isTimeZone(name: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: name });
    return true;
  } catch {
    return false;
  }
}

export const SCHEDULE_OUTSIDE = ['suppress', 'defer'] as const;
/** `schedule.defer_max` when not given: a day. */
export const DEFAULT_DEFER_MAX_MS = 86_400_000;

export const ScheduleSchema = z
  .strictObject({
    timezone: z
      .string()
      .refine((name) => name === 'user' || isTimeZone(name), {
        error: (issue) =>
          `unknown IANA timezone ${JSON.stringify(issue.input)}: use an IANA name such as "Europe/London", or "user" for each user's own`,
      })
      .default('UTC'),
    /** With `timezone: "user"`: the zone of a user whose `timezone` attribute is missing or names no zone. */
    fallback_timezone: z
      .string()
      .refine(isTimeZone, { error: (issue) => `unknown IANA timezone ${JSON.stringify(issue.input)}` })
      .optional(),
    days: z
      .array(z.enum(DAYS, { error: oneOf('day', DAYS) }))
      .min(1, 'list at least one day, or leave days out for every day')
      .refine((days) => new Set(days).size === days.length, 'a day is listed twice')
      .optional(),
    from: z.string().regex(CLOCK, 'a time of day is "HH:MM", from 00:00 to 24:00').default('00:00'),
    to: z.string().regex(CLOCK, 'a time of day is "HH:MM", from 00:00 to 24:00').default('24:00'),
    /**
     * What becomes of an entry outside the window: `suppress` (the default) decides it suppressed
     * by the schedule; `defer` decides it for the window's next opening (`deliver_at`). Left out
     * of the parsed message when not given, so stored messages read as before; `compileSchedule`
     * applies the default.
     */
    outside: z.enum(SCHEDULE_OUTSIDE, { error: oneOf('schedule.outside', SCHEDULE_OUTSIDE) }).optional(),
    /** With `outside: "defer"`: the longest an entry may wait for the window (default `1d`). */
    defer_max: DurationSchema.refine((ms) => ms > 0, 'defer_max must be longer than 0').optional(),
  })
  .superRefine((schedule, ctx) => {
    if (schedule.fallback_timezone !== undefined && schedule.timezone !== 'user')
      ctx.addIssue({
        code: 'custom',
        path: ['fallback_timezone'],
        message: 'only with timezone "user": a schedule in a zone of its own needs no fallback',
      });
    if (schedule.defer_max !== undefined && schedule.outside !== 'defer')
      ctx.addIssue({
        code: 'custom',
        path: ['defer_max'],
        message: 'only with outside "defer": a schedule that suppresses outside its window holds nothing',
      });
    if (schedule.from === '24:00')
      ctx.addIssue({ code: 'custom', path: ['from'], message: 'a window cannot open at 24:00' });
    if (clockMinutes(schedule.from) === clockMinutes(schedule.to)) {
      ctx.addIssue({
        code: 'custom',
        path: ['to'],
        message: 'from and to are equal: the window would be empty',
      });
    }
  });
export type Schedule = z.infer<typeof ScheduleSchema>;

const TemplateTextSchema = z.string().superRefine((text, ctx) => {
  const problem = templateProblem(text);
  if (problem !== undefined) ctx.addIssue({ code: 'custom', message: problem });
});

export const TemplateSchema = z.strictObject({
  subject: TemplateTextSchema.optional(),
  body: z.string({ error: requiredOr('a template body is a string') }).pipe(TemplateTextSchema),
});
export type Template = z.infer<typeof TemplateSchema>;

const ID_RULE =
  'an id is 1 to 128 letters, digits, "_", "." or "-", starting with a letter or a digit, with no "." at its end or next to another';

export const MessageIdSchema = z
  .string({ error: requiredOr('an id is a string') })
  .max(128, { error: ID_RULE })
  // A "." may not end the id or follow another: the id is a token of a NATS subject in the catalog.
  .regex(/^[A-Za-z0-9][A-Za-z0-9_-]*(?:\.[A-Za-z0-9_-]+)*$/, { error: ID_RULE });

const TimestampSchema = z.int().nonnegative().max(Number.MAX_SAFE_INTEGER);

export const MessageSchema = z.strictObject({
  id: MessageIdSchema,
  version: z.int().positive().default(1),
  name: z.string().max(500).optional(),
  channel: z.enum(CHANNELS, { error: oneOf('channel', CHANNELS) }),
  state: z.enum(MESSAGE_STATES, { error: oneOf('state', MESSAGE_STATES) }),
  /** Entries received before it never trigger the message; absent means no lower bound. */
  live_since: TimestampSchema.nullable().optional(),
  priority: z.int().default(0),
  trigger: z.strictObject({
    event: z
      .string({ error: requiredOr('a trigger names one event') })
      .min(1)
      .max(200),
    where: ConditionSchema.optional(),
  }),
  audience: ConditionSchema.optional(),
  frequency: z
    .strictObject({
      min_interval: DurationSchema.default(0),
      max_sends: z.int().nonnegative().nullable().default(null),
    })
    .default({ min_interval: 0, max_sends: null }),
  global_cap_exempt: z.boolean().default(false),
  schedule: ScheduleSchema.optional(),
  template: TemplateSchema,
  goal: z.strictObject({ event: z.string().min(1).max(200), within: DurationSchema }).optional(),
});
export type MessageInput = z.input<typeof MessageSchema>;
export type Message = z.output<typeof MessageSchema>;

export const MessageListSchema = z.array(MessageSchema).superRefine((messages, ctx) => {
  const seen = new Set<string>();
  messages.forEach((message, i) => {
    if (seen.has(message.id))
      ctx.addIssue({ code: 'custom', path: [i, 'id'], message: `duplicate id "${message.id}"` });
    seen.add(message.id);
  });
});

export const GlobalCapSchema = z.strictObject({
  max: z.int().nonnegative(),
  per: DurationSchema.refine((ms) => ms > 0, 'a cap window must be longer than 0'),
  channel: z.enum(CHANNELS, { error: oneOf('channel', CHANNELS) }).optional(),
});
export type GlobalCap = z.output<typeof GlobalCapSchema>;
export const GlobalCapListSchema = z.array(GlobalCapSchema);

/** A message version's name in the catalog's history (`<id>@<version>`). */
export const versionKey = (id: string, version: number): string => `${id}@${version}`;
