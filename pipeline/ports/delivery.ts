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
  /** From the entry's received_at to the outcome, ms. */
  readonly latency_ms: number;
  /** When the outcome was reached, ms since the epoch. */
  readonly at: number;
};
