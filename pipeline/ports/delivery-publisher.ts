import type { Delivery } from './delivery.ts';

/**
 * Where a delivery is handed to its channel's sender outside the decision path (a test send):
 * the deliveries stream the senders read. Contract: resolves once the delivery is durably stored
 * on its channel's deliveries (the senders will have it); the same user and `decision_id` put
 * again within a day is stored once; rejects when it could not be stored, and then nothing was.
 */
export type DeliveryPublisher = {
  publish(delivery: Delivery): Promise<void>;
};
