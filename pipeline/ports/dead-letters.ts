/**
 * What the matcher could not decide, set aside so that it never blocks its partition: a line of a
 * log message that is no entry (a producer publishing straight to the log can send one), or an
 * entry the core threw on (a bug it triggers: deterministic, so replay sets it aside as well).
 */
export type DeadLetter = {
  readonly partition: number;
  readonly seq: number;
  readonly kind: DeadLetterKind;
  /** ms: the entry's `received_at`, or for a malformed line when its log message was stored. */
  readonly at: number;
  /** `malformed`: the line's place among the message's lines; `failed`: the entry's among its entries (0 first). */
  readonly index: number;
  readonly problem: string;
  /** The line as it was stored, or the entry as JSON; at most `DEAD_LETTER_LINE_CHARS` of it. */
  readonly line: string;
};

export type DeadLetterKind = 'malformed' | 'failed';

/** Enough of a line to see what it was; log messages are at most 512 KiB, and a dead letter need not hold all of one. */
export const DEAD_LETTER_LINE_CHARS = 65_536;

/**
 * Where dead letters go before the batch holding them is committed. Contract: `publish` resolves
 * only once each is durable; publishing one again (same partition, seq, kind and index, after a
 * crash) never makes a second one visible downstream.
 */
export type DeadLetterSink = {
  publish(letters: readonly DeadLetter[]): Promise<void>;
};
