import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { PositionedDecision } from '../ports/decision-sink.ts';

/**
 * What a nudge process tells Prometheus (`GET /metrics`), with prom-client: one registry per
 * process, shared by the API and the matcher when `nudge start` runs both.
 */
export class NudgeMetrics {
  readonly registry = new Registry();
  readonly ingested = new Counter({
    name: 'nudge_ingested_entries_total',
    help: 'Entries posted to the API, by status (accepted, duplicate, rejected)',
    labelNames: ['status'] as const,
    registers: [this.registry],
  });
  readonly decisions = new Counter({
    name: 'nudge_decisions_total',
    help: 'Decisions made by this process, by outcome and reason ("none" when sent)',
    labelNames: ['outcome', 'reason'] as const,
    registers: [this.registry],
  });
  readonly repeats = new Counter({
    name: 'nudge_repeated_entries_total',
    help: 'Log entries dropped by the matcher as repeats of an entry already applied for their user (the same id)',
    registers: [this.registry],
  });
  readonly deadLetters = new Counter({
    name: 'nudge_dead_letters_total',
    help: 'What the matcher set aside undecided, by kind: malformed (a line of the log that is no entry) or failed (an entry the core threw on)',
    labelNames: ['kind'],
    registers: [this.registry],
  });
  readonly batchSeconds = new Histogram({
    name: 'nudge_batch_seconds',
    help: 'Time to decide and commit one batch of a partition (read, load, decide, publish, commit)',
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });
  readonly partitionLag = new Gauge({
    name: 'nudge_partition_lag_messages',
    help: 'Log messages of a partition stored but not yet read by its owner here (each up to 100 entries)',
    labelNames: ['partition'] as const,
    registers: [this.registry],
  });
  readonly writerBacklog = new Gauge({
    name: 'nudge_writer_backlog_messages',
    help: 'Messages waiting for a writer (ClickHouse audit writers, the in-app inbox) after its last read',
    labelNames: ['writer'] as const,
    registers: [this.registry],
  });
  readonly inAppConnections = new Gauge({
    name: 'nudge_inapp_connections',
    help: "Pages connected to this API process's in-app stream (GET /v1/client/stream)",
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'nudge_' });
  }

  countDecisions(decisions: readonly PositionedDecision[]): void {
    for (const { decision } of decisions)
      this.decisions.inc({ outcome: decision.outcome, reason: decision.reason ?? 'none' });
  }
}
