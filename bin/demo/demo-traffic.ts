import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { NatsConnection } from 'nats';
import { LogPublisher } from '../../pipeline/adapters/nats/log-stream.ts';
import type { Config } from '../../pipeline/config/load-config.ts';
import type { LogEntry } from '../../pipeline/core/log-entry.ts';
import type { Namespace } from '../../pipeline/namespace.ts';

const USERS = 20;
const NAMES = ['Ada', 'Grace', 'Linus', 'Barbara', 'Ken'];
const pick = <T>(list: readonly T[]): T => list[Math.floor(Math.random() * list.length)] as T;

/**
 * Demo traffic for the quick start: 20 users identified once, then about five entries a second —
 * mostly uploads (some long enough for `upload-ready`, some not), now and then a sign-up — stamped
 * now, until the signal aborts.
 */
export async function demoTraffic(
  nc: NatsConnection,
  ns: Namespace,
  config: Config,
  signal: AbortSignal,
): Promise<number> {
  const publisher = new LogPublisher(nc.jetstream(), ns, config.partitions);
  const users = Array.from({ length: USERS }, (_, i) => `demo-user-${i}`);
  await publisher.publish(
    users.map((user_id, i): LogEntry => ({
      type: 'identify',
      id: randomUUID(),
      user_id,
      received_at: Date.now(),
      attributes: {
        plan: i % 3 === 0 ? 'free' : pick(['pro', 'team']),
        first_name: pick(NAMES),
        email: `${user_id}@example.com`,
      },
    })),
  );
  let sent = 0;
  while (!signal.aborted) {
    const user_id = pick(users);
    const entry: LogEntry =
      Math.random() < 0.1
        ? { type: 'track', id: randomUUID(), name: 'signed-up', user_id, received_at: Date.now() }
        : {
            type: 'track',
            id: randomUUID(),
            name: 'upload-completed',
            user_id,
            received_at: Date.now(),
            metadata: {
              file_name: `clip-${Math.floor(Math.random() * 1000)}.mp4`,
              duration_s: Math.floor(Math.random() * 400),
            },
            context: { url: 'https://app.example/uploads' },
          };
    await publisher.publish([entry]);
    sent++;
    await sleep(200, undefined, { signal }).catch(() => undefined);
  }
  await publisher.flush();
  return sent;
}
