import { loadConfig } from '../pipeline/config/load-config.ts';
import type { ServiceName } from './services/local-services.ts';
import { clusterDown, clusterUp } from './services/cluster-services.ts';
import { servicesDown, servicesUp } from './services/local-services.ts';
import { UsageError } from './usage-error.ts';

const NAMES: readonly ServiceName[] = ['nats', 'redis', 'clickhouse'];

/**
 * `nudge services up [nats|redis|clickhouse …]`, `nudge services up --cluster` (the clustered
 * NATS and Redis beside the single services, `cluster-services.ts`), and `nudge services down
 * [--cluster]` (everything `up` started; with `--cluster`, the cluster's nodes only).
 */
export async function servicesCommand(args: string[]): Promise<void> {
  const cluster = args.includes('--cluster');
  const [action, ...names] = args.filter((arg) => arg !== '--cluster');
  const config = loadConfig(process.env);
  const report = (line: string) => process.stdout.write(`services: ${line}\n`);
  const unknown = names.filter((name) => !(NAMES as readonly string[]).includes(name));
  if (unknown.length > 0)
    throw new UsageError(`unknown service ${unknown.join(', ')}: use ${NAMES.join(', ')}`);
  const only = names.length === 0 ? undefined : (names as ServiceName[]);
  if (cluster && only !== undefined)
    throw new UsageError('--cluster starts the clustered NATS and Redis: name no service');
  if (action === 'up') return cluster ? clusterUp(config, report) : servicesUp(config, report, only);
  if (action === 'down') {
    if (!cluster) await servicesDown(config, report);
    return clusterDown(config, report, !cluster);
  }
  throw new UsageError(
    'use "services up [service …]", "services up --cluster" or "services down [--cluster]"',
  );
}
