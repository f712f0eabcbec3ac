import type { LogEntry } from '../core/log-entry.ts';

/**
 * One message of a partition's log: one or more entries, in order, at one stream sequence.
 * Shaped like a JetStream message: until it is acked it will be delivered again.
 */
export type LogMessage = {
  /** The message's position in the log stream; grows along a partition. */
  readonly seq: number;
  readonly entries: readonly LogEntry[];
  /** Done with it: never deliver it again. */
  ack(): void;
  /** Deliver it again, after the delay. */
  nak(delayMs?: number): void;
};

/**
 * A partition's log, read by its one owner. Contract: `fetch` returns the next messages of the
 * partition in sequence order, at least once each: a message not acked is delivered again (in
 * order, before later ones), so the reader must skip what it already applied.
 */
export type LogSource = {
  fetch(partition: number, max: number): Promise<readonly LogMessage[]>;
};
