import { setTimeout as sleep } from 'node:timers/promises';
import { eventName } from '../../bench/core/workload.ts';
import { CHAOS_EVENTS } from './load-generator.ts';

/**
 * A client of `POST /v1/events` through a fault: small batches, each sent again with the same ids
 * until it is answered 202, as the README tells clients to do with a 503. Every entry a 202 calls
 * accepted or duplicate joins `acked`, so the checker proves none of them was lost; the statuses
 * tell whether the API ever said 2xx while it could not store (it must answer 503 instead).
 */
export class HttpProber {
  readonly statuses = new Map<number, number>();
  counts = { batches: 0, retries: 0, unreachable: 0 };
  private stopping = false;
  private running: Promise<void> | undefined;

  constructor(
    private readonly url: string,
    private readonly key: string,
    private readonly users: number,
    private readonly acked: Map<string, { user_id: string; id: string }>,
  ) {}

  start(): void {
    this.running = this.loop();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await this.running;
  }

  private async loop(): Promise<void> {
    for (let n = 0; !this.stopping; n++) {
      const events = Array.from({ length: 5 }, (_, i) => ({
        type: 'track',
        id: `http-${n}-${i}`,
        user_id: `u${(n * 5 + i) % this.users}`,
        name: eventName((n + i) % CHAOS_EVENTS),
        metadata: { amount: (n * 37 + i) % 1000, tier: 'pro', file_name: `h${n}.png` },
        context: { url: 'https://example.test/app' },
      }));
      // Once sent, a batch is sent until it is stored, even while stopping: a client does not give up.
      for (let tries = 0; ; tries++) {
        if (tries > 0) this.counts.retries++;
        const status = await this.post(events);
        if (status === 202) break;
        await sleep(250);
      }
      this.counts.batches++;
      await sleep(200);
    }
  }

  private async post(events: readonly { id: string; user_id: string }[]): Promise<number | undefined> {
    let response: Response;
    try {
      response = await fetch(this.url, {
        method: 'POST',
        headers: { authorization: `Bearer ${this.key}`, 'content-type': 'application/json' },
        body: JSON.stringify({ events }),
        signal: AbortSignal.timeout(15_000),
      });
    } catch {
      this.counts.unreachable++;
      return undefined;
    }
    this.statuses.set(response.status, (this.statuses.get(response.status) ?? 0) + 1);
    const body = (await response.json()) as { results?: { status: string }[] };
    if (response.status === 202)
      events.forEach((event, i) => {
        const status = body.results?.[i]?.status;
        if (status === 'accepted' || status === 'duplicate')
          this.acked.set(`${event.user_id}\u0000${event.id}`, event);
      });
    return response.status;
  }
}
