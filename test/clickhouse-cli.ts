import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { loadConfig } from '../pipeline/config/load-config.ts';

const run = promisify(execFile);
const config = loadConfig(process.env);

/**
 * A query asked of ClickHouse by its own command-line client over the native port (as
 * `npm run services` configures it: 9000 beside 8123, else the HTTP port + 1), one JSON object a
 * row: counts independent of the API's SQL and of the HTTP client the code under test uses.
 */
export async function clickhouseClient<T>(query: string): Promise<T[]> {
  const url = new URL(config.clickhouseUrl);
  const httpPort = Number(url.port || 8123);
  const nativePort = httpPort === 8123 ? 9000 : httpPort + 1;
  const { stdout } = await run('clickhouse-client', [
    '--host',
    url.hostname,
    '--port',
    String(nativePort),
    '--format',
    'JSONEachRow',
    '--query',
    query,
  ]);
  return stdout
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as T);
}
