import type { Message } from '../core/message-schema.ts';
import type { FlatObject } from '../core/scalar.ts';

/** A half-open range of decision times, ms: `from <= at < to`. */
export type TimeRange = { readonly from: number; readonly to: number };

/** What a stats question narrows the decisions to, besides the range. */
export type FactsFilter = {
  readonly message?: string | undefined;
  readonly channel?: string | undefined;
};

/** Bucket widths of a series, ms. */
export const BUCKETS = { minute: 60_000, hour: 3_600_000, day: 86_400_000 } as const;
export type Bucket = keyof typeof BUCKETS;

/** What a series can be split by. */
export const SERIES_BY = ['outcome', 'reason', 'message', 'channel'] as const;
export type SeriesKey = (typeof SERIES_BY)[number];

// Plain (not readonly) lists: the API writes these as they are, through its response schemas.
type Counts = Record<string, number>;

export type StatsSummary = TimeRange & {
  decisions: number;
  sent: number;
  suppressed: number;
  filtered: number;
  reasons: Counts;
  users_decided: number;
  users_reached: number;
};

export type StatsSeries = TimeRange & {
  bucket: Bucket;
  by: SeriesKey;
  points: { at: number; key: string; decisions: number }[];
};

/** A reason a channel gave for failing, and how many deliveries failed for it. */
export type FailureReason = { reason: string; failed: number };

/** One row per message, with its channel (a message has one: whether it reports delivered or seen follows from it). */
export type StatsMessages = TimeRange & {
  messages: {
    message_id: string;
    channel: string;
    triggered: number;
    passed_filters: number;
    sent: number;
    /** What its sender reported (`delivery_outcomes`), by when: 0 where no sender runs. */
    delivered: number;
    failed: number;
    /** The most frequent reasons of `failed` (at most `TOP_FAILURE_REASONS`), most first. */
    failed_reasons: FailureReason[];
    /** Held sends never delivered: their message was paused or stopped before they were due. */
    cancelled: number;
    /** In-app outcomes of its sends, each counted once per send; 0 on other channels. */
    seen: number;
    clicked: number;
    dismissed: number;
    suppressed: Counts;
    filtered: Counts;
    users_reached: number;
  }[];
};

/** How many failure reasons a funnel row lists. */
export const TOP_FAILURE_REASONS = 5;

export type StatsFrequency = TimeRange & {
  histogram: { sends: number; user_days: number }[];
};

export type StatsDeliveries = TimeRange & {
  outcomes: {
    channel: string;
    outcome: string;
    deliveries: number;
    latency_ms: { p50: number; p90: number; p99: number };
  }[];
};

type GoalGroup = { users: number; converted: number; rate: number | null };
export type StatsGoals = TimeRange & {
  goals: {
    message_id: string;
    goal: { event: string; within: number };
    sent: GoalGroup;
    not_sent: GoalGroup;
  }[];
};

/** A decision as the audit holds it. */
export type AuditedDecision = {
  readonly decision_id: string;
  readonly entry_id: string;
  readonly message_id: string;
  readonly message_version: number;
  readonly channel: string;
  readonly at: number;
  /** A held send's delivery time, ms; null on every other decision. */
  readonly deliver_at: number | null;
  readonly outcome: 'sent' | 'suppressed' | 'filtered';
  readonly reason: string | null;
  readonly subject: string | null;
  readonly body: string | null;
  readonly explanation: string;
  /** The explanation, structured, as JSON. */
  readonly explanation_data: string;
};

/** Which of a user's decisions, newest first: `before` is where the previous page stopped. */
export type DecisionQuery = {
  readonly message?: string | undefined;
  readonly outcome?: AuditedDecision['outcome'] | undefined;
  readonly limit: number;
  readonly before?: { readonly at: number; readonly decision_id: string } | undefined;
};

/** An event name seen in the log, from the audit. */
export type SeenEvent = { readonly name: string; readonly entries: number; readonly last_seen: number };

/** A `track` entry as the log's audit holds it: what a template preview renders with. */
export type RecentEntry = {
  readonly entry_id: string;
  readonly user_id: string;
  readonly received_at: number;
  /** As sent; `{}` when the entry had none. */
  readonly metadata: FlatObject;
  readonly context: FlatObject;
};

/**
 * What the API reads of the audit (ClickHouse): a user's decisions, the event names seen, and the
 * stats. Contract: every decision and entry counted once, however often the writers stored it; a
 * service that does not answer is a `ServiceUnavailable`, a stats question past its time limit a
 * `QueryTooLong`.
 */
export type AuditReader = {
  decisions(userId: string, query: DecisionQuery): Promise<AuditedDecision[]>;
  events(limit: number): Promise<SeenEvent[]>;
  /** The latest `limit` track entries of this name, newest first (received_at), each entry once. */
  recentEntries(name: string, limit: number): Promise<RecentEntry[]>;
  summary(range: TimeRange, filter: FactsFilter): Promise<StatsSummary>;
  series(range: TimeRange, filter: FactsFilter, bucket: Bucket, by: SeriesKey): Promise<StatsSeries>;
  messages(range: TimeRange, filter: FactsFilter): Promise<StatsMessages>;
  frequency(range: TimeRange, filter: FactsFilter): Promise<StatsFrequency>;
  deliveries(range: TimeRange, filter: FactsFilter): Promise<StatsDeliveries>;
  /** The goal conversion of these messages (those that name a goal). */
  goals(range: TimeRange, messages: readonly Message[]): Promise<StatsGoals>;
};
