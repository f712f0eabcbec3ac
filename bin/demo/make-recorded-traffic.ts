/**
 * Writes `recorded-traffic.ndjson`, the two hours of demo traffic the README's what-if walkthrough
 * replays: the quick start's mix (20 users, uploads and now and then a sign-up) on Tuesday
 * 2026-11-03 from 09:00 to 11:00 UTC, drawn from a fixed seed so that every run of the walkthrough
 * (and the README's test) sees the same entries and decisions.
 * Run: node --import tsx bin/demo/make-recorded-traffic.ts > bin/demo/recorded-traffic.ndjson
 */
const START = Date.UTC(2026, 10, 3, 9, 0, 0);
const HOURS = 2;
const USERS = 20;
const ENTRIES = 640;
const NAMES = ['Ada', 'Grace', 'Linus', 'Barbara', 'Ken'];

/** mulberry32: a small seeded generator, so the file is the same on every run. */
function seeded(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const random = seeded(20261103);
const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)] as T;
const lines: string[] = [];
for (let i = 0; i < USERS; i++)
  lines.push(
    JSON.stringify({
      type: 'identify',
      id: `rec-identify-${i}`,
      user_id: `rec-user-${i}`,
      received_at: START + i,
      attributes: {
        plan: i % 3 === 0 ? 'free' : pick(['pro', 'team']),
        first_name: pick(NAMES),
        email: `rec-user-${i}@example.com`,
      },
    }),
  );
const step = (HOURS * 3_600_000) / ENTRIES;
for (let i = 0; i < ENTRIES; i++) {
  const received_at = START + 1_000 + Math.floor(i * step + random() * step * 0.5);
  const user_id = `rec-user-${Math.floor(random() * USERS)}`;
  lines.push(
    JSON.stringify(
      random() < 0.1
        ? { type: 'track', id: `rec-${i}`, name: 'signed-up', user_id, received_at }
        : {
            type: 'track',
            id: `rec-${i}`,
            name: 'upload-completed',
            user_id,
            received_at,
            metadata: {
              file_name: `clip-${Math.floor(random() * 1000)}.mp4`,
              duration_s: Math.floor(random() * 400),
            },
            context: { url: 'https://app.example/uploads' },
          },
    ),
  );
}
process.stdout.write(lines.join('\n') + '\n');
