// `npm run bench:email [-- --mails N --rounds N]`: mails a second through the email sender's
// SmtpMailer to a real SMTP server in another process (smtp-server, on loopback), with the pool of
// kept-open connections against a connection of its own for every mail, in the same run. No
// services needed.
import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { SmtpMailer } from '../../pipeline/adapters/smtp/smtp-mailer.ts';
import type { Delivery } from '../../pipeline/ports/delivery.ts';

const { values } = parseArgs({
  options: {
    mails: { type: 'string', default: '500' },
    rounds: { type: 'string', default: '2' },
  },
});
const mails = Number(values.mails);
const rounds = Number(values.rounds);
const log = (line: string) => process.stderr.write(`bench: ${line}\n`);

async function smtpServer(): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', new URL('smtp-server.ts', import.meta.url).pathname],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  for await (const line of createInterface({ input: child.stdout })) {
    const port = /^listening (\d+)/.exec(line)?.[1];
    if (port !== undefined) return { child, url: `smtp://127.0.0.1:${port}` };
  }
  throw new Error('the SMTP server ended before listening');
}

const delivery = (n: number): Delivery => ({
  decision_id: `bench-mail:e${n}`,
  message_id: 'bench-mail',
  message_version: 1,
  user_id: `u${n}`,
  channel: 'email',
  at: Date.now(),
  subject: `Your upload ${n} is ready`,
  body: `Hi there,\n\nfile-${n}.pdf finished uploading. Share it with your team.\n\nAcme Files`,
});

type Mode = { readonly name: string; readonly pool: boolean; readonly concurrency: number };
const MODES: readonly Mode[] = [
  { name: 'a connection a mail, one at a time (baseline)', pool: false, concurrency: 1 },
  { name: 'the pool, one at a time (as the sender sends)', pool: true, concurrency: 1 },
  { name: 'a connection a mail, 5 at a time', pool: false, concurrency: 5 },
  { name: 'the pool of 5, 5 at a time', pool: true, concurrency: 5 },
];

/** Mails a second over `mails` mails; every one must be accepted (250), or the run says so. */
async function run(url: string, mode: Mode, offset: number): Promise<number> {
  const mailer = new SmtpMailer({ url, from: 'bench@acme.example', pool: mode.pool, maxConnections: 5 });
  let next = 0;
  let failed = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: mode.concurrency }, async () => {
      while (next < mails) {
        const n = offset + next++;
        const sent = await mailer.send(delivery(n), `u${n}@example.com`);
        if (sent.result !== 'delivered') failed++;
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  mailer.close();
  if (failed > 0) throw new Error(`${mode.name}: ${failed} of ${mails} mails not accepted`);
  return mails / seconds;
}

const server = await smtpServer();
try {
  const rates = new Map<string, number[]>(MODES.map((m) => [m.name, []]));
  // Warm-up: the JIT, the server's first connections.
  await run(server.url, { name: 'warm-up', pool: true, concurrency: 1 }, 0);
  for (let round = 1; round <= rounds; round++) {
    for (const [i, mode] of MODES.entries()) {
      const rate = await run(server.url, mode, (round * MODES.length + i) * mails);
      rates.get(mode.name)?.push(rate);
      log(`round ${round}: ${mode.name}: ${Math.round(rate)} mails/s`);
    }
  }
  const best = (name: string) => Math.max(...(rates.get(name) ?? [0]));
  const baseline = best(MODES[0]?.name ?? '');
  const rows = MODES.map((mode) => ({
    mode: mode.name,
    mails_per_s: Math.round(best(mode.name)),
    ratio: Number((best(mode.name) / baseline).toFixed(2)),
    rounds: (rates.get(mode.name) ?? []).map(Math.round),
  }));
  const dir = new URL('../out/', import.meta.url).pathname;
  await mkdir(dir, { recursive: true });
  await writeFile(`${dir}email.json`, `${JSON.stringify({ mails, rounds, rows }, null, 2)}\n`);
  process.stdout.write(
    [
      `| ${mails} mails to smtp-server on loopback | mails/s (best of ${rounds}) | ÷ baseline | each round |`,
      '| --- | ---: | ---: | --- |',
      ...rows.map((r) => `| ${r.mode} | ${r.mails_per_s} | ${r.ratio}× | ${r.rounds.join(', ')} |`),
      '',
    ].join('\n'),
  );
} finally {
  server.child.kill('SIGTERM');
}
