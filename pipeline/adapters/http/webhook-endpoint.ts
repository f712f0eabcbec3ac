import type { Delivery } from '../../ports/delivery.ts';

/**
 * POSTs a delivery as JSON to a URL, with the decision id as `Idempotency-Key` so the receiver can
 * drop a repeat. Resolves with the HTTP status; 0 when the endpoint could not be reached in time.
 */
export function webhookEndpoint(url: string, timeoutMs = 10_000): (delivery: Delivery) => Promise<number> {
  return async (delivery) => {
    try {
      const response = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'idempotency-key': delivery.decision_id },
        body: JSON.stringify(delivery),
        signal: AbortSignal.timeout(timeoutMs),
      });
      await response.arrayBuffer();
      return response.status;
    } catch {
      return 0;
    }
  };
}
