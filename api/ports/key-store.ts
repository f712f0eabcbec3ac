import type { ApiKeyRecord } from '../auth/api-keys.ts';

/** Where API keys live (hashed). */
export type KeyStore = {
  put(record: ApiKeyRecord): Promise<void>;
  get(id: string): Promise<ApiKeyRecord | undefined>;
  list(): Promise<ApiKeyRecord[]>;
};
