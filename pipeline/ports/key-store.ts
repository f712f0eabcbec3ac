import { z } from 'zod';

/** `ingest` posts entries; `read` reads decisions, users and the catalog; `admin` does everything. */
export const SCOPES = ['ingest', 'read', 'admin'] as const;
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
