import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Arrival } from './run-checker.ts';

/**
 * The endpoint of a fault run's `nudge send webhook`: answers every POST 200 and records, for each,
 * the delivery's user and decision id and when it arrived here (`Date.now()` as the request's body
 * ends), so the checker can tell a send delivered twice, never, or before its `deliver_at`.
 */
export class WebhookReceiver {
  readonly arrivals: Arrival[] = [];
  /** Bodies that were no delivery (none expected: each would be a fault of the sender). */
  unreadable = 0;
  /** Answers that never reached the sender (the connection closed first): each may be sent again. */
  unanswered = 0;

  private constructor(
    private readonly server: Server,
    readonly url: string,
  ) {}

  static async start(): Promise<WebhookReceiver> {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const receiver = new WebhookReceiver(server, `http://127.0.0.1:${port}/deliveries`);
    server.on('request', (request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        const arrived = Date.now();
        try {
          const delivery = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
          if (typeof delivery['user_id'] !== 'string' || typeof delivery['decision_id'] !== 'string')
            throw new Error('no delivery');
          receiver.arrivals.push({
            user_id: delivery['user_id'],
            decision_id: delivery['decision_id'],
            arrived,
          });
        } catch {
          receiver.unreadable++;
        }
        response.on('close', () => {
          if (!response.writableFinished) receiver.unanswered++;
        });
        response.writeHead(200).end();
      });
    });
    return receiver;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }
}
