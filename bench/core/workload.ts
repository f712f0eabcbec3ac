import type { GlobalCap, MessageInput } from '../../pipeline/core/message-schema.ts';
import type { LineSink } from '../../pipeline/ports/line-sink.ts';

/** A small seeded PRNG (mulberry32): the benchmark's workload is the same on every run. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export type WorkloadSize = { entries: number; users: number; messages: number; events: number };

const PLANS = ['free', 'pro', 'team', 'enterprise'];
const PAGES = ['/app/uploads', '/app/settings', '/pricing', '/docs/start', '/app/billing'];
const START = Date.UTC(2026, 10, 2, 0, 0, 0);

export const eventName = (i: number) => `event-${String(i).padStart(2, '0')}`;

export function workloadMessages(size: WorkloadSize, random = seededRandom(7)): MessageInput[] {
  const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)] as T;
  return Array.from({ length: size.messages }, (_, i): MessageInput => {
    const shape = i % 4;
    const where =
      shape === 0
        ? { field: 'metadata.amount', op: 'gt' as const, value: Math.floor(random() * 900) }
        : shape === 1
          ? {
              all: [
                { field: 'metadata.tier', op: 'in' as const, value: [pick(PLANS), pick(PLANS)] },
                { field: 'context.url', op: 'contains' as const, value: '/app' },
              ],
            }
          : shape === 2
            ? {
                any: [
                  { field: 'metadata.file_name', op: 'ends_with' as const, value: '.png' },
                  { field: 'metadata.amount', op: 'lte' as const, value: 100 },
                ],
              }
            : undefined;
    return {
      id: `m-${String(i).padStart(4, '0')}`,
      channel: pick(['push', 'email', 'sms', 'banner', 'chat'] as const),
      state: 'live',
      live_since: START,
      priority: i % 3,
      trigger: { event: eventName(i % size.events), ...(where === undefined ? {} : { where }) },
      ...(i % 3 === 0 ? { audience: { field: 'user.plan', op: 'in' as const, value: ['pro', 'team'] } } : {}),
      frequency: { min_interval: pick(['15m', '1h', '1d']), max_sends: i % 5 === 0 ? 3 : null },
      global_cap_exempt: i % 10 === 0,
      ...(i % 5 === 1
        ? {
            schedule: {
              timezone: pick(['Europe/London', 'America/New_York']),
              days: ['mon', 'tue', 'wed', 'thu', 'fri'],
              from: '09:00',
              to: '18:00',
            },
          }
        : {}),
      template: {
        subject: 'Hi {{ user.first_name | fallback: "there" }}',
        body: '{{ metadata.file_name }} is ready ({{ metadata.amount }})',
      },
    };
  });
}

export const workloadCaps: GlobalCap[] = [
  { max: 5, per: 86_400_000 },
  { max: 2, per: 604_800_000, channel: 'sms' },
];

/** Writes the log: entries over a week, in time order, 5% of them `identify`. */
export async function writeWorkloadLog(
  size: WorkloadSize,
  sink: LineSink,
  random = seededRandom(11),
): Promise<void> {
  const step = (7 * 86_400_000) / size.entries;
  for (let i = 0; i < size.entries; i++) {
    const user_id = `u${Math.floor(random() * size.users)}`;
    const received_at = START + Math.floor(i * step);
    const id = `e${i}`;
    if (random() < 0.05) {
      const attributes = {
        plan: PLANS[Math.floor(random() * PLANS.length)] ?? 'free',
        first_name: `Name${i % 1000}`,
      };
      sink.writeLine(JSON.stringify({ type: 'identify', id, user_id, received_at, attributes }));
    } else {
      const metadata = {
        amount: Math.floor(random() * 1000),
        tier: PLANS[Math.floor(random() * PLANS.length)] ?? 'free',
        file_name: `f${i % 5000}.${random() < 0.5 ? 'png' : 'pdf'}`,
      };
      const context = { url: `https://example.test${PAGES[Math.floor(random() * PAGES.length)] ?? '/'}` };
      sink.writeLine(
        JSON.stringify({
          type: 'track',
          id,
          name: eventName(Math.floor(random() * size.events)),
          user_id,
          received_at,
          metadata,
          context,
        }),
      );
    }
    if (i % 10_000 === 9_999) await sink.flush();
  }
  await sink.close();
}
