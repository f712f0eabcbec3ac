import type { UnsubscribeSecrets } from '../../pipeline/ports/key-store.ts';
import type { UnsubscribeTarget } from './unsubscribe-token.ts';
import {
  newUnsubscribeSecret,
  signUnsubscribeToken,
  unsubscribeUrl,
  verifyUnsubscribeToken,
} from './unsubscribe-token.ts';

/**
 * Unsubscribe links signed and checked with the namespace's secret: the email sender makes them,
 * the API checks them. The secret is read once and kept (it never changes); whichever process
 * needs it first makes it (`ensureUnsubscribeSecret`), so a sender started before any API, or an
 * API asked before any mail was sent, agree on one. A failed read is not kept: the next call asks
 * again.
 */
export class UnsubscribeLinks {
  private secret: Promise<string> | undefined;

  constructor(private readonly secrets: UnsubscribeSecrets) {}

  /** `{publicUrl}/v1/unsubscribe/{token}` for the target. */
  async url(publicUrl: string, target: UnsubscribeTarget): Promise<string> {
    return unsubscribeUrl(publicUrl, signUnsubscribeToken(await this.secretOnce(), target));
  }

  /** What a token stands for, or undefined when it is not one of ours (forged, altered, cut short). */
  async verify(token: string): Promise<UnsubscribeTarget | undefined> {
    return verifyUnsubscribeToken(await this.secretOnce(), token);
  }

  private secretOnce(): Promise<string> {
    this.secret ??= this.secrets.ensureUnsubscribeSecret(newUnsubscribeSecret()).catch((error: unknown) => {
      this.secret = undefined;
      throw error;
    });
    return this.secret;
  }
}
