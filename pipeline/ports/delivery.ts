/** What a channel sender receives: the decision that sent a message, with its content (README "Deliveries"). */
export type Delivery = {
  readonly decision_id: string;
  readonly message_id: string;
  readonly message_version: number;
  readonly user_id: string;
  readonly channel: string;
  /** The entry's received_at: when it was decided. */
  readonly at: number;
  /**
   * When a held send is due (`schedule.outside: "defer"`, README "Held sends"): it reaches the
   * deliveries stream at or after this time, never before. Absent on a send made at once.
   */
  readonly deliver_at?: number;
  readonly subject: string | null;
  readonly body: string;
  /**
   * A test send (`POST /v1/messages/test-send`, README "Test sends"): made by a person for one
   * user, not decided. Senders send it as any other, so the person sees it; it is not on the log,
   * not in the decisions audit and counts toward no limit. Absent on every decided send.
   */
  readonly test?: true;
};

/**
 * How a test send's decision id starts (`test/<message id>/<uuid>`): a "/" is in no message id, so
 * it never reads as the decision id of a message's send (`<message id>:<entry id>`).
 */
export const TEST_SEND_PREFIX = 'test/';

/** When a delivery was sent: its `deliver_at` when it was held, else its entry's received_at. */
export const sentAt = (delivery: Pick<Delivery, 'at' | 'deliver_at'>): number =>
  delivery.deliver_at ?? delivery.at;

/** What became of a delivery, as a sender reports it (for delivery analytics). */
export type DeliveryOutcome = {
  readonly decision_id: string;
  readonly channel: string;
  /**
   * `cancelled`: a held send whose message was paused or stopped before it was due, never handed
   * to a sender (recorded by the releaser, with 0 attempts).
   */
  readonly outcome: 'delivered' | 'failed' | 'cancelled';
  readonly attempts: number;
  /** The endpoint's last HTTP status, 0 when it could not be reached. */
  readonly status: number;
  /**
   * Why it failed, as the channel said it (`no email address`, the SMTP server's reply, `the
   * endpoint answered 410`), or why it was cancelled; '' when delivered.
   */
  readonly reason: string;
  /** From the send (`sentAt`: a held send's deliver_at, else the entry's received_at) to the outcome, ms. */
  readonly latency_ms: number;
  /** When the outcome was reached, ms since the epoch. */
  readonly at: number;
};

/**
 * What a person did with an in-app send, as their page reports it (README "Show messages in your
 * app"): `seen` when rendered or shown in the inbox, `dismissed` when closed, `clicked` when acted
 * on. Each is recorded once per send.
 */
export type InAppOutcome = {
  readonly decision_id: string;
  readonly message_id: string;
  readonly user_id: string;
  readonly channel: string;
  readonly outcome: 'seen' | 'dismissed' | 'clicked';
  /** From the send (`sentAt`) to the outcome, ms. */
  readonly latency_ms: number;
  /** When the page reported it, ms since the epoch. */
  readonly at: number;
};

/** Where in-app outcomes are kept (ClickHouse `inapp_outcomes`); storing one twice counts it once. */
export type InAppOutcomes = {
  record(outcomes: readonly InAppOutcome[]): Promise<void>;
};
