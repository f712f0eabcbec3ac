/**
 * What a channel keeps of the deliveries its provider has accepted, when the provider takes no
 * idempotency key to tell a delivery sent twice (SMTP): a sender that dies between the provider's
 * answer and the ack gets the delivery again, and the mark says it went. A mark is kept for a
 * while, not forever: long enough for a delivery left unacked to come back to a sender.
 */
export type SentMarks = {
  /** The status the provider accepted the delivery with, if it is marked. */
  accepted(decisionId: string): Promise<number | undefined>;
  /** Marks the delivery as accepted with `status`; marking it again changes nothing that matters. */
  mark(decisionId: string, status: number): Promise<void>;
};
