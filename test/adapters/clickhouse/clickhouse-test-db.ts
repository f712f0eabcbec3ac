import { createClient } from '@clickhouse/client';
import type { ClickHouseClient } from '@clickhouse/client';
import { randomUUID } from 'node:crypto';
import { loadConfig } from '../../../pipeline/config/load-config.ts';

/**
 * A client on the configured ClickHouse (`npm test` brings the services up first) and a fresh
 * database name per test file (`t_<uuid>`), so runs never collide. Never a mock.
 */
export function testClickHouse(): { client: ClickHouseClient; database: string; drop: () => Promise<void> } {
  const client = createClient({ url: loadConfig(process.env).clickhouseUrl, request_timeout: 60_000 });
  const database = `t_${randomUUID().replaceAll('-', '')}`;
  return {
    client,
    database,
    drop: async () => {
      await client.command({ query: `DROP DATABASE IF EXISTS \`${database}\`` });
      await client.close();
    },
  };
}
