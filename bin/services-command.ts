import { loadConfig } from '../pipeline/config/load-config.ts';
import type { ServiceName } from './services/local-services.ts';
import { servicesDown, servicesUp } from './services/local-services.ts';
import { UsageError } from './usage-error.ts';

const NAMES: readonly ServiceName[] = ['nats', 'redis', 'clickhouse'];

/** `nudge services up [nats|redis|clickhouse …]` and `nudge services down`. */
export async function servicesCommand(args: string[]): Promise<void> {
  const [action, ...names] = args;
  const config = loadConfig(process.env);
  const report = (line: string) => process.stdout.write(`services: ${line}\n`);
  const unknown = names.filter((name) => !(NAMES as readonly string[]).includes(name));
  if (unknown.length > 0)
    throw new UsageError(`unknown service ${unknown.join(', ')}: use ${NAMES.join(', ')}`);
  const only = names.length === 0 ? undefined : (names as ServiceName[]);
  if (action === 'up') return servicesUp(config, report, only);
  if (action === 'down') return servicesDown(config, report);
  throw new UsageError('use "services up [service …]" or "services down"');
}
