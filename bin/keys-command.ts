import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { RedisKeyStore } from '../pipeline/adapters/redis/redis-key-store.ts';
import type { Scope } from '../api/auth/api-keys.ts';
import { newApiKey, SCOPES } from '../api/auth/api-keys.ts';
import { loadConfig } from '../pipeline/config/load-config.ts';
import { Namespace } from '../pipeline/namespace.ts';
import { UsageError } from './usage-error.ts';

/** `nudge keys create --scope <s[,s]> --name <name> [--rate <per minute>]`, `nudge keys list`, `nudge keys revoke <id or key>`. */
export async function keysCommand(args: string[]): Promise<void> {
  const [action, ...rest] = args;
  let values;
  let positionals;
  try {
    ({ values, positionals } = parseArgs({
      args: rest,
      options: { scope: { type: 'string' }, name: { type: 'string' }, rate: { type: 'string' } },
      allowPositionals: true,
      strict: true,
    }));
  } catch (error) {
    throw new UsageError((error as Error).message, { cause: error });
  }
  const config = loadConfig(process.env);
  const redis = new Redis(config.redisUrl);
  const store = new RedisKeyStore(redis, new Namespace(config.namespace));
  try {
    if (action === 'create') {
      const scopes = parseScopes(values.scope);
      if (values.name === undefined || values.name.trim() === '')
        throw new UsageError('--name <name> is required');
      const rate = values.rate === undefined ? undefined : Number(values.rate);
      if (rate !== undefined && !(Number.isInteger(rate) && rate > 0))
        throw new UsageError('--rate is a whole number of requests a minute, above 0');
      const { id, key, hash } = newApiKey();
      await store.put({
        id,
        name: values.name,
        scopes,
        hash,
        created_at: Date.now(),
        revoked_at: null,
        ...(rate === undefined ? {} : { rate_per_minute: rate }),
      });
      process.stdout.write(`${key}\n`);
      process.stderr.write(`key ${id} (${scopes.join(', ')}) created: it is shown this once, store it now\n`);
    } else if (action === 'list') {
      for (const record of await store.list()) {
        const state =
          record.revoked_at === null ? 'active' : `revoked ${new Date(record.revoked_at).toISOString()}`;
        process.stdout.write(
          `${record.id}  ${record.scopes.join(',').padEnd(19)} ${state.padEnd(32)} ${record.name}\n`,
        );
      }
    } else if (action === 'revoke') {
      const [given] = positionals;
      if (given === undefined)
        throw new UsageError('keys revoke <id or key> (the id is the part after "nudge_" in the key)');
      // The key itself names its id: `nudge_<id>_<secret>`.
      const id = /^nudge_([0-9a-f]{16})_/.exec(given)?.[1] ?? given;
      const record = await store.get(id);
      if (record === undefined) throw new UsageError(`no key with id ${id}`);
      if (record.revoked_at === null) await store.put({ ...record, revoked_at: Date.now() });
      process.stdout.write(`key ${id} revoked (in effect within 5 s on running APIs)\n`);
    } else {
      throw new UsageError(
        'use "keys create --scope <ingest|read|admin>[,…] --name <name>", "keys list" or "keys revoke <id or key>"',
      );
    }
  } finally {
    await redis.quit();
  }
}

function parseScopes(text: string | undefined): Scope[] {
  if (text === undefined)
    throw new UsageError(`--scope is required: ${SCOPES.join(', ')} (several with commas)`);
  const scopes = text.split(',').map((s) => s.trim());
  const unknown = scopes.filter((s) => !(SCOPES as readonly string[]).includes(s));
  if (unknown.length > 0)
    throw new UsageError(`unknown scope ${unknown.join(', ')}: use ${SCOPES.join(', ')}`);
  return [...new Set(scopes)] as Scope[];
}
