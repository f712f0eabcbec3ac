import type { ClickHouseClient } from '@clickhouse/client';
import { ServiceUnavailable } from '../../errors.ts';
import type { InAppOutcome, InAppOutcomes } from '../../ports/delivery.ts';

/**
 * The `inapp_outcomes` table of `migrateAudit`, one insert per call. Its rows are keyed by
 * (channel, decision_id, outcome), so an outcome stored twice collapses and reads once through
 * `FINAL`. The API calls this while a page waits: ClickHouse not answering is a
 * `ServiceUnavailable` (a 503 the page may retry), never the driver's own error, which names hosts.
 */
export class ClickHouseInAppOutcomes implements InAppOutcomes {
  constructor(
    private readonly client: ClickHouseClient,
    private readonly database: string,
  ) {}

  async record(outcomes: readonly InAppOutcome[]): Promise<void> {
    if (outcomes.length === 0) return;
    try {
      await this.client.insert({
        table: `${this.database}.inapp_outcomes`,
        values: outcomes,
        format: 'JSONEachRow',
      });
    } catch (error) {
      throw new ServiceUnavailable('audit', 'the outcomes store (ClickHouse) did not answer; retry shortly', {
        cause: error,
      });
    }
  }
}
