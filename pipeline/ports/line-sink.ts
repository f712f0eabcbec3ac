/**
 * Where replay output goes, one line at a time. Contract: lines are written in the order given;
 * `flush` resolves once everything given so far is accepted by the destination (backpressure);
 * `close` flushes and releases the destination.
 */
export type LineSink = {
  writeLine(line: string): void;
  flush(): Promise<void>;
  close(): Promise<void>;
};
