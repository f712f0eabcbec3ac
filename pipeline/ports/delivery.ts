/** What a channel sender receives: the decision that sent a message, with its content (README "Deliveries"). */
export type Delivery = {
  readonly decision_id: string;
  readonly message_id: string;
  readonly message_version: number;
  readonly user_id: string;
  readonly channel: string;
  readonly at: number;
  readonly subject: string | null;
  readonly body: string;
};

/** What became of a delivery, as a sender reports it (for delivery analytics). */
export type DeliveryOutcome = {
  readonly decision_id: string;
  readonly channel: string;
  readonly outcome: 'delivered' | 'failed';
  readonly attempts: number;
  /** The endpoint's last HTTP status, 0 when it could not be reached. */
  readonly status: number;
  /**
   * Why it failed, as the channel said it (`no email address`, the SMTP server's reply, `the
   * endpoint answered 410`); '' when delivered.
   */
  readonly reason: string;
  /** From the entry's received_at to the outcome, ms. */
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
  /** From the send (the entry's received_at) to the outcome, ms. */
  readonly latency_ms: number;
  /** When the page reported it, ms since the epoch. */
  readonly at: number;
};

/** Where in-app outcomes are kept (ClickHouse `inapp_outcomes`); storing one twice counts it once. */
export type InAppOutcomes = {
  record(outcomes: readonly InAppOutcome[]): Promise<void>;
};
