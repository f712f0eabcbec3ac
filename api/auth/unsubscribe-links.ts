import type { UnsubscribeSecrets } from '../../pipeline/ports/key-store.ts';
import type { TrackTarget } from './track-token.ts';
import { openPixelUrl, signTrackToken, trackUrl, verifyTrackToken } from './track-token.ts';
import type { UnsubscribeTarget } from './unsubscribe-token.ts';
import {
  newUnsubscribeSecret,
  signUnsubscribeToken,
  unsubscribeUrl,
  verifyUnsubscribeToken,
} from './unsubscribe-token.ts';

/**
 * Unsubscribe links, and the tracking links of opens and clicks, signed and checked with the
 * namespace's secret: the email and push senders make them, the API checks them. The secret is read once and kept (it never changes); whichever process
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

  /** `{publicUrl}/v1/track/{token}/open.gif`, the open pixel of a mail (kind `open`). */
  async openPixelUrl(publicUrl: string, target: Omit<TrackTarget, 'kind'>): Promise<string> {
    return openPixelUrl(publicUrl, signTrackToken(await this.secretOnce(), { ...target, kind: 'open' }));
  }

  /** `{publicUrl}/v1/track/{token}`, a push notification's `track` (kind `click`). */
  async trackUrl(publicUrl: string, target: Omit<TrackTarget, 'kind'>): Promise<string> {
    return trackUrl(publicUrl, signTrackToken(await this.secretOnce(), { ...target, kind: 'click' }));
  }

  /** What a tracking token stands for, or undefined when it is not one of ours (an unsubscribe token included). */
  async verifyTrack(token: string): Promise<TrackTarget | undefined> {
    return verifyTrackToken(await this.secretOnce(), token);
  }

  private secretOnce(): Promise<string> {
    this.secret ??= this.secrets.ensureUnsubscribeSecret(newUnsubscribeSecret()).catch((error: unknown) => {
      this.secret = undefined;
      throw error;
    });
    return this.secret;
  }
}
