/**
 * A durable, shared reader of a stream, for the consumers that copy it elsewhere (the audit
 * writers, the in-app inbox writer). Contract: at least once: a batch not acked comes again (after
 * `nak`'s delay, or a timeout), so what it feeds must tolerate a repeat.
 */
export type BatchReader<T> = {
  /** The next items (none when the stream had nothing new for a while). */
  next(maxMessages: number): Promise<Batch<T>>;
};

export type Batch<T> = {
  readonly items: readonly T[];
  /** Done with the whole batch. */
  ack(): void;
  /** Deliver the whole batch again, after the delay. */
  nak(delayMs: number): void;
};
