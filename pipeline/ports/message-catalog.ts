import type { CompiledCaps } from '../core/caps.ts';
import type { GlobalCap, Message } from '../core/message-schema.ts';
import type { CompiledMessage } from '../core/rule-index.ts';
import type { CatalogHistory } from './recorded-log.ts';

/** The latest version of every message, and the caps in force. */
export type Catalog = {
  readonly messages: readonly Message[];
  /** When each of `messages` was stored (ms, the catalog's clock): when the message last changed. */
  readonly stored_at: readonly number[];
  readonly caps: readonly GlobalCap[];
  /** The catalog's sequence of the caps in force (0: never set), recorded with each decision. */
  readonly capsVersion: number;
};

/** Every version of one message, oldest first, and when each was stored (ms, the catalog's clock), in the same order. */
export type MessageVersions = {
  readonly versions: Message[];
  readonly stored_at: number[];
};

export type ApplyOutcome = {
  readonly id: string;
  readonly change: 'created' | 'updated' | 'unchanged';
  readonly version: number;
};

/** A message in force, compiled once for its version, with the caps in force compiled. */
export type CompiledInForce = {
  readonly message: Message;
  readonly compiled: CompiledMessage;
  readonly caps: CompiledCaps;
};

/**
 * The versioned store of message definitions and global caps (`nudge messages apply`, the API's
 * message routes), and what replays read of its history. Contract: every change is a new version,
 * never an overwrite; a write made from a version another writer has replaced since throws
 * `WriteConflict` and stores nothing; `compiled` gives the version in force, compiled once per
 * version however often it is asked for.
 */
export type MessageCatalog = {
  read(): Promise<Catalog>;
  latest(id: string): Promise<Message | undefined>;
  /** Every version of a message, oldest first, with when each was stored. */
  versions(id: string): Promise<MessageVersions>;
  compiled(id: string): Promise<CompiledInForce | undefined>;
  /** Each message whose definition differs from its latest version becomes a new version. */
  apply(messages: readonly Message[], now: number): Promise<ApplyOutcome[]>;
  /** The caps, as a new version when they differ from those in force; true when stored. */
  applyCaps(caps: readonly GlobalCap[]): Promise<boolean>;
  /** Removes every version of a message: only for drafts, which no decision can have used. */
  purge(id: string): Promise<void>;
  history(): Promise<CatalogHistory>;
};
