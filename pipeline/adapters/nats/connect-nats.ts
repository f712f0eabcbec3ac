import type { NatsConnection } from 'nats';
import { connect } from 'nats';

/**
 * A connection to NATS as every nudge process makes it. `noAsyncTraces`: by default nats.js
 * builds an Error (a stack trace) for every request, a JetStream publish included, in case it
 * times out; that was 9% of a matcher's CPU under load, for a trace nobody reads.
 */
export function connectNats(url: string, name: string): Promise<NatsConnection> {
  // `NUDGE_NATS_URL` may name several servers (a cluster's nodes): the client tries each.
  return connect({ servers: url.split(','), name, noAsyncTraces: true });
}
