import { parseArgs } from 'node:util';
import webpush from 'web-push';
import type { JetStreamKeyStore } from '../pipeline/adapters/nats/jetstream-key-store.ts';
import { openKeyStore } from './open-key-store.ts';
import type { Scope } from '../api/auth/api-keys.ts';
import { newApiKey, SCOPES } from '../api/auth/api-keys.ts';
import { newClientSecret } from '../api/auth/user-hash.ts';
import { loadConfig, namespaceOf } from '../pipeline/config/load-config.ts';
import type { VapidKeys } from '../pipeline/ports/key-store.ts';
import { UsageError } from './usage-error.ts';

/**
 * `nudge keys create --scope <s[,s]> --name <name> [--rate <per minute>]`, `nudge keys list`,
 * `nudge keys revoke <id or key>`, `nudge keys secret [--rotate]` (the client secret user hashes
 * are made with), `nudge keys vapid [--rotate] [--subject <mailto: or https: URL>]` (the key pair
 * web push is signed with).
 */
export async function keysCommand(args: string[]): Promise<void> {
  const [action, ...rest] = args;
  let values;
  let positionals;
  try {
    ({ values, positionals } = parseArgs({
      args: rest,
      options: {
        scope: { type: 'string' },
        name: { type: 'string' },
        rate: { type: 'string' },
        rotate: { type: 'boolean' },
        subject: { type: 'string' },
      },
      allowPositionals: true,
      strict: true,
    }));
  } catch (error) {
    throw new UsageError((error as Error).message, { cause: error });
  }
  const config = loadConfig(process.env);
  const opened = await openKeyStore(config, namespaceOf(config), 'nudge keys');
  const store = opened.store;
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
    } else if (action === 'secret') {
      // Rotating refuses every user hash made with the old secret at once: pages need new ones.
      const secret =
        values.rotate === true
          ? await store.setClientSecret(newClientSecret()).then(() => store.clientSecret())
          : await store.ensureClientSecret(newClientSecret());
      process.stdout.write(`${secret ?? ''}\n`);
      process.stderr.write(
        values.rotate === true
          ? 'client secret replaced: user hashes made with the old one are refused from now on (within 5 s on running APIs)\n'
          : 'the client secret: your server signs user ids with it (HMAC-SHA256, hex); keep it off pages\n',
      );
    } else if (action === 'vapid') {
      const keys = await vapidKeys(store, values.rotate === true, values.subject);
      process.stdout.write(`${keys.public_key}\n`);
      process.stderr.write(
        values.rotate === true
          ? `VAPID keys replaced (${keys.subject}): subscriptions made with the old public key are refused by the push services; pages must subscribe again\n`
          : `the VAPID public key (${keys.subject}): pages pass it to pushManager.subscribe as applicationServerKey; nudge send push signs with its private key\n`,
      );
    } else {
      throw new UsageError(
        'use "keys create --scope <ingest|read|admin|client>[,…] --name <name>", "keys list", "keys revoke <id or key>", "keys secret [--rotate]" or "keys vapid [--rotate] [--subject mailto:<address>]"',
      );
    }
  } finally {
    await opened.close();
  }
}

/**
 * The stored VAPID keys, made when there are none or when rotating; `subject` replaces the stored
 * one (the keys stay: subscriptions are bound to the public key, not to the subject).
 */
async function vapidKeys(
  store: JetStreamKeyStore,
  rotate: boolean,
  subject: string | undefined,
): Promise<VapidKeys> {
  if (
    subject !== undefined &&
    !['mailto:', 'https:'].includes(URL.canParse(subject) ? new URL(subject).protocol : '')
  )
    throw new UsageError('--subject is a mailto: address or an https: URL, as mailto:push@example.com');
  const stored = await store.vapidKeys();
  if (stored !== undefined && !rotate) {
    if (subject === undefined || subject === stored.subject) return stored;
    const updated = { ...stored, subject };
    await store.setVapidKeys(updated);
    return updated;
  }
  const chosen = subject ?? stored?.subject;
  if (chosen === undefined)
    throw new UsageError(
      '--subject mailto:<address> (or an https: URL) is required to make the VAPID keys: push services contact you there',
    );
  const { publicKey, privateKey } = webpush.generateVAPIDKeys();
  const made = { public_key: publicKey, private_key: privateKey, subject: chosen };
  if (!rotate) return store.ensureVapidKeys(made);
  await store.setVapidKeys(made);
  return made;
}

function parseScopes(text: string | undefined): Scope[] {
  if (text === undefined)
    throw new UsageError(`--scope is required: ${SCOPES.join(', ')} (several with commas)`);
  const scopes = text.split(',').map((s) => s.trim());
  const unknown = scopes.filter((s) => !(SCOPES as readonly string[]).includes(s));
  if (unknown.length > 0)
    throw new UsageError(`unknown scope ${unknown.join(', ')}: use ${SCOPES.join(', ')}`);
  // A client key sits in web pages: with a second scope it would publish that scope's powers.
  if (scopes.includes('client') && new Set(scopes).size > 1)
    throw new UsageError('a client key is publishable, so it has the client scope alone: --scope client');
  return [...new Set(scopes)] as Scope[];
}
