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
