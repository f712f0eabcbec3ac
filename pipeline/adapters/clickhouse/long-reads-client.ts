import type { ClickHouseClient } from '@clickhouse/client';
import { ClickHouseLogLevel, createClient } from '@clickhouse/client';

/**
 * A ClickHouse client for replays, which read for minutes: an hour a request, and progress headers
 * that keep the connection alive meanwhile. Failures are thrown, not logged.
 */
export const longReadsClient = (url: string): ClickHouseClient =>
  createClient({
    url,
    request_timeout: 3_600_000,
    clickhouse_settings: { send_progress_in_http_headers: 1, http_headers_progress_interval_ms: '60000' },
    log: { level: ClickHouseLogLevel.OFF },
  });
