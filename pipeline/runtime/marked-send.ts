import type { ChannelSend } from '../ports/channel.ts';
import type { SentMarks } from '../ports/sent-marks.ts';

/**
 * A channel's send that marks each delivery its provider accepted, at once, and does not send a
 * marked delivery again: it is delivered, with the status it was accepted with. This narrows the
 * duplicate window of a provider with no idempotency key from "the provider's answer until the
 * ack" (the outcome's insert into ClickHouse and the ack, tens of ms) to "the answer until the
 * mark is written" (one Redis round trip). A delivery is looked up before every send: a Redis
 * read, small beside a send.
 */
export function markedSend(send: ChannelSend, marks: SentMarks): ChannelSend {
  return async (delivery) => {
    const status = await marks.accepted(delivery.decision_id);
    if (status !== undefined) return { result: 'delivered', status };
    const sent = await send(delivery);
    if (sent.result === 'delivered')
      // The delivery went whatever becomes of its mark: a failed mark only leaves the window as
      // wide as without one, where rejecting would leave the delivery unacked and send it again.
      await marks.mark(delivery.decision_id, sent.status).catch(() => undefined);
    return sent;
  };
}
