import type { NatsConnection } from 'nats';
import type { Namespace } from '../../namespace.ts';
import type { InAppFeed, InAppNotice } from '../../ports/inbox.ts';
import { decodeValue, encodeValue } from './packs.ts';

/**
 * The in-app feed on core NATS (`<ns>.inapp`, no stream): what is published reaches the
 * subscribers connected at that moment, at most once, which is what the feed promises. A notice
 * is one JSON value.
 */
export class NatsInAppFeed implements InAppFeed {
  constructor(
    private readonly nc: NatsConnection,
    private readonly ns: Namespace,
    /** Told of a subscription error, or of a notice that could not be read or whose listener threw (dropped). */
    private readonly report: (error: unknown) => void = () => undefined,
  ) {}

  publish(notice: InAppNotice): void {
    this.nc.publish(this.ns.inAppSubject, encodeValue(notice));
  }

  subscribe(on: (notice: InAppNotice) => void): () => void {
    const subscription = this.nc.subscribe(this.ns.inAppSubject, {
      callback: (error, message) => {
        if (error !== null) {
          this.report(error);
          return;
        }
        // nats.js calls this from its protocol parser: nothing may be thrown back into it.
        try {
          on(decodeValue(message.data) as InAppNotice);
        } catch (failure) {
          this.report(failure);
        }
      },
    });
    return () => {
      subscription.unsubscribe();
    };
  }
}
