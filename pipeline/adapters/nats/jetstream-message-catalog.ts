import type { JetStreamClient, JetStreamManager } from 'nats';
import { NatsError } from 'nats';
import { compileCaps } from '../../core/caps.ts';
import type { CompiledCaps } from '../../core/caps.ts';
import type { GlobalCap, Message } from '../../core/message-schema.ts';
import type { CompiledMessage } from '../../core/rule-index.ts';
import { compileMessage } from '../../core/rule-index.ts';
import { WriteConflict } from '../../errors.ts';
import type { Namespace } from '../../namespace.ts';
import type {
  ApplyOutcome,
  Catalog,
  CompiledInForce,
  MessageCatalog,
  MessageVersions,
} from '../../ports/message-catalog.ts';
import type { CatalogHistory } from '../../ports/recorded-log.ts';
import {
  applyCaps,
  applyMessages,
  catalogHistory,
  latestMessage,
  purgeMessage,
  readCaps,
  readCatalog,
  storedVersions,
} from './catalog-stream.ts';

/** JetStream's API error code when the subject moved on since it was read (another writer won). */
const WRONG_LAST_SEQUENCE = 10071;

/**
 * The message catalog in its JetStream stream (`<NS>_CATALOG`, see catalog-stream.ts). Compiled
 * messages are kept per version and the compiled caps per caps version, so a question about a
 * message in force (eligibility) compiles nothing twice.
 */
export class JetStreamMessageCatalog implements MessageCatalog {
  private readonly compiledMessages = new Map<string, { version: number; compiled: CompiledMessage }>();
  private compiledCaps: { version: number; caps: CompiledCaps } | undefined;

  constructor(
    private readonly js: JetStreamClient,
    private readonly jsm: JetStreamManager,
    private readonly ns: Namespace,
  ) {}

  read(): Promise<Catalog> {
    return readCatalog(this.jsm, this.ns);
  }

  latest(id: string): Promise<Message | undefined> {
    return latestMessage(this.jsm, this.ns, id);
  }

  versions(id: string): Promise<MessageVersions> {
    return storedVersions(this.js, this.ns, id);
  }

  async compiled(id: string): Promise<CompiledInForce | undefined> {
    // The message and the caps only: the whole catalog is a read per message.
    const [message, catalog] = await Promise.all([this.latest(id), readCaps(this.jsm, this.ns)]);
    if (message === undefined) return undefined;
    let kept = this.compiledMessages.get(id);
    if (kept?.version !== message.version) {
      kept = { version: message.version, compiled: compileMessage(message) };
      this.compiledMessages.set(id, kept);
    }
    if (this.compiledCaps?.version !== catalog.capsVersion)
      this.compiledCaps = { version: catalog.capsVersion, caps: compileCaps(catalog.caps) };
    return { message, compiled: kept.compiled, caps: this.compiledCaps.caps };
  }

  apply(messages: readonly Message[], now: number): Promise<ApplyOutcome[]> {
    return conflictFree(() => applyMessages(this.js, this.jsm, this.ns, messages, now));
  }

  applyCaps(caps: readonly GlobalCap[]): Promise<boolean> {
    return conflictFree(() => applyCaps(this.js, this.jsm, this.ns, caps));
  }

  purge(id: string): Promise<void> {
    return purgeMessage(this.jsm, this.ns, id);
  }

  history(): Promise<CatalogHistory> {
    return catalogHistory(this.js, this.ns);
  }
}

/** A write that lost a race with another writer of the same subject is a `WriteConflict`. */
async function conflictFree<T>(write: () => Promise<T>): Promise<T> {
  try {
    return await write();
  } catch (error) {
    if (error instanceof NatsError && error.api_error?.err_code === WRONG_LAST_SEQUENCE)
      throw new WriteConflict(
        'another change to the same definition was stored first: read it again and retry',
        { cause: error },
      );
    throw error;
  }
}
