import { z } from 'zod';

/**
 * `ingest` posts entries; `read` reads decisions, users and the catalog; `admin` does everything;
 * `client` is publishable (it sits in web pages): it reaches only the `/v1/client` routes, and
 * only for the user its request proves with the user hash (README "Show messages in your app").
 */
export const SCOPES = ['ingest', 'read', 'admin', 'client'] as const;
export type Scope = (typeof SCOPES)[number];

export const ApiKeyRecordSchema = z.object({
  id: z.string(),
  name: z.string(),
  scopes: z.array(z.enum(SCOPES)).min(1),
  /** sha256 of the secret, hex: the key itself is shown once, at creation, and never stored. */
  hash: z.string(),
  created_at: z.int(),
  revoked_at: z.int().nullable(),
  /** Requests a minute this key may make (absent: the API's default). */
  rate_per_minute: z.int().positive().optional(),
});
export type ApiKeyRecord = z.output<typeof ApiKeyRecordSchema>;

/** Where API keys live, hashed. Contract: `put` replaces the record of its id; `list` is oldest first. */
export type KeyStore = {
  put(record: ApiKeyRecord): Promise<void>;
  get(id: string): Promise<ApiKeyRecord | undefined>;
  list(): Promise<ApiKeyRecord[]>;
};

/**
 * The deployment's secret that user hashes are made with (HMAC-SHA256 of the user id). Contract:
 * `ensure` makes one only when there is none, so concurrent first starts agree on one.
 */
export type ClientSecrets = {
  clientSecret(): Promise<string | undefined>;
  ensureClientSecret(candidate: string): Promise<string>;
  setClientSecret(secret: string): Promise<void>;
};

/**
 * The deployment's VAPID key pair (RFC 8292), which the push sender signs its requests with: the
 * public key is what pages pass to `pushManager.subscribe` as `applicationServerKey`, so a
 * subscription is bound to it, and `subject` (a `mailto:` or `https:` URL) is whom push services
 * contact about this sender. Keys as web-push makes them: base64url, the public key uncompressed
 * (65 bytes), the private key its 32-byte scalar.
 */
export const VapidKeysSchema = z.object({
  public_key: z.string().min(1),
  private_key: z.string().min(1),
  subject: z.string().min(1),
});
export type VapidKeys = Readonly<z.output<typeof VapidKeysSchema>>;

/**
 * Where the VAPID keys live. Contract: `ensure` stores the candidate only when there are none, so
 * concurrent first starts agree on one pair; `set` replaces them (rotating the keys orphans every
 * subscription made with the old public key: pages must subscribe again).
 */
export type VapidKeyStore = {
  vapidKeys(): Promise<VapidKeys | undefined>;
  ensureVapidKeys(candidate: VapidKeys): Promise<VapidKeys>;
  setVapidKeys(keys: VapidKeys): Promise<void>;
};

/**
 * The deployment's secret unsubscribe links are signed with (HMAC-SHA256): the email sender signs,
 * the API verifies. Apart from the client secret, because rotating that one (a leaked page key)
 * must not break the links in mails already sent, which people follow months later. Contract:
 * `ensure` stores the candidate only when there is none, so whichever process needs it first
 * makes it and every other agrees on it; it is never replaced (that would break every link sent).
 */
export type UnsubscribeSecrets = {
  unsubscribeSecret(): Promise<string | undefined>;
  ensureUnsubscribeSecret(candidate: string): Promise<string>;
};
