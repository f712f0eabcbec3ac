import type { BatchReader } from '../ports/batch-reader.ts';
import type { Delivery } from '../ports/delivery.ts';
import { sentAt } from '../ports/delivery.ts';
import type { InAppChannel, InAppFeed, InAppNotice, Inbox, InboxMessage } from '../ports/inbox.ts';
import { isInAppChannel } from '../ports/inbox.ts';

export type InboxWriterOptions = {
  /** Every channel's deliveries: the writer keeps the in-app ones. */
  readonly reader: BatchReader<Delivery>;
  readonly inbox: Inbox;
  readonly feed: InAppFeed;
  /** How long a batch waits to come again after the inbox failed. */
  readonly retryMs?: number;
};

type InAppDelivery = Delivery & { readonly channel: InAppChannel };

/**
 * Puts each in-app delivery in its user's inbox, then tells the API processes (the feed), then
 * acks the batch. While the inbox is down nothing is acked: the batch comes again after
 * `retryMs`. A delivery read twice is one entry (the inbox is idempotent on the decision id) and
 * is told again with its stored seq, which a page that had it drops.
 *
 * A user's deliveries are added one after another, in stream order, so their seqs follow the
 * order of the sends; different users' are added at once.
 */
export class InboxWriter {
  constructor(private readonly options: InboxWriterOptions) {}

  /** One batch: the number of in-app deliveries put in an inbox (repeats included). Throws when the inbox failed. */
  async step(maxMessages = 200): Promise<number> {
    const { reader, feed, retryMs = 5_000 } = this.options;
    const batch = await reader.next(maxMessages);
    const deliveries = batch.items.filter((d): d is InAppDelivery => isInAppChannel(d.channel));
    let notices: InAppNotice[];
    try {
      notices = await this.add(deliveries);
    } catch (error) {
      batch.nak(retryMs);
      throw error;
    }
    for (const notice of notices) feed.publish(notice);
    batch.ack();
    return deliveries.length;
  }

  private async add(deliveries: readonly InAppDelivery[]): Promise<InAppNotice[]> {
    const byUser = new Map<string, InAppDelivery[]>();
    for (const delivery of deliveries) {
      const own = byUser.get(delivery.user_id);
      if (own === undefined) byUser.set(delivery.user_id, [delivery]);
      else own.push(delivery);
    }
    const added = await Promise.all(
      [...byUser].map(async ([user_id, own]) => {
        const notices: InAppNotice[] = [];
        for (const delivery of own) {
          const { entry } = await this.options.inbox.add(user_id, messageOf(delivery));
          notices.push({ user_id, entry });
        }
        return notices;
      }),
    );
    return added.flat();
  }
}

const messageOf = (delivery: InAppDelivery): InboxMessage => ({
  decision_id: delivery.decision_id,
  message_id: delivery.message_id,
  channel: delivery.channel,
  subject: delivery.subject,
  body: delivery.body,
  at: sentAt(delivery),
});
