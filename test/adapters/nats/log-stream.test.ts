import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { connect } from 'nats';
import type { JetStreamManager, NatsConnection } from 'nats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NdjsonLogFile } from '../../../pipeline/adapters/file/ndjson-log-file.ts';
import { ensureLogStream, LogPublisher } from '../../../pipeline/adapters/nats/log-stream.ts';
import { decodePack, encodePack } from '../../../pipeline/adapters/nats/packs.ts';
import { loadConfig } from '../../../pipeline/config/load-config.ts';
import type { LogEntry } from '../../../pipeline/core/log-entry.ts';
import { partitionOf } from '../../../pipeline/core/partition.ts';
import { InputError } from '../../../pipeline/errors.ts';
import { Namespace } from '../../../pipeline/namespace.ts';

const root = new URL('../../..', import.meta.url).pathname;
const onboarding = join(root, 'test/fixtures/replay/onboarding/log.ndjson');
const PARTITIONS = 4;
const ns = new Namespace(`t_${randomUUID().replaceAll('-', '').slice(0, 20)}`);
let nc: NatsConnection;
let jsm: JetStreamManager;

async function fileEntries(path: string): Promise<LogEntry[]> {
  const entries: LogEntry[] = [];
  for await (const batch of new NdjsonLogFile(path).batches()) entries.push(...batch);
  return entries;
}

/** Every message of the log stream, in stream order, decoded. */
async function logMessages(): Promise<{ subject: string; entries: LogEntry[] }[]> {
  const info = await jsm.streams.info(ns.logStream);
  const messages = [];
  for (let seq = info.state.first_seq; seq <= info.state.last_seq && info.state.messages > 0; seq++) {
    const message = await jsm.streams.getMessage(ns.logStream, { seq });
    messages.push({ subject: message.subject, entries: decodePack(message.data, `seq ${seq}`) });
  }
  return messages;
}

beforeAll(async () => {
  nc = await connect({ servers: loadConfig(process.env).natsUrl });
  jsm = await nc.jetstreamManager();
  await ensureLogStream(jsm, ns, PARTITIONS);
});

afterAll(async () => {
  await jsm.streams.delete(ns.logStream).catch(() => false);
  await nc.drain();
});

describe('the log stream on a real NATS JetStream', () => {
  it('publishes every entry to its user partition, in order, packed, once acknowledged', async () => {
    const entries = await fileEntries(onboarding);
    const publisher = new LogPublisher(nc.jetstream(), ns, PARTITIONS);
    await publisher.publish(entries);
    const result = await publisher.flush();
    expect(result.entries).toBe(entries.length);
    expect(result.duplicates).toBe(0);
    // Fewer than 100 entries per partition: one message per partition used.
    expect(result.messages).toBe(new Set(entries.map((e) => partitionOf(e.user_id, PARTITIONS))).size);

    const messages = await logMessages();
    for (const { subject, entries: packed } of messages) {
      for (const entry of packed) expect(subject).toBe(ns.logSubject(partitionOf(entry.user_id, PARTITIONS)));
    }
    const stored = messages.flatMap((m) => m.entries);
    expect([...stored].sort((a, b) => a.id.localeCompare(b.id))).toEqual(
      [...entries].sort((a, b) => a.id.localeCompare(b.id)),
    );
    // Each user's entries keep the file's order (one user, one partition, one sequence).
    for (const user of new Set(entries.map((e) => e.user_id))) {
      expect(stored.filter((e) => e.user_id === user)).toEqual(entries.filter((e) => e.user_id === user));
    }
  });

  it('drops a publish repeated inside the duplicate window (same ids, same packs)', async () => {
    const before = (await jsm.streams.info(ns.logStream)).state.messages;
    const entries = await fileEntries(onboarding);
    const publisher = new LogPublisher(nc.jetstream(), ns, PARTITIONS);
    await publisher.publish(entries);
    expect((await publisher.flush()).duplicates).toBe(entries.length);
    expect((await jsm.streams.info(ns.logStream)).state.messages).toBe(before);
  });

  it('refuses to reuse a log stream with another partition count', async () => {
    await expect(ensureLogStream(jsm, ns, PARTITIONS + 1)).rejects.toThrow(InputError);
    await expect(ensureLogStream(jsm, ns, PARTITIONS)).resolves.toBeUndefined();
  });
});

describe('the log envelope', () => {
  it('round-trips entries, and names the line of a bad one', () => {
    const entries: LogEntry[] = [
      {
        type: 'track',
        id: 'a',
        name: 'n',
        user_id: 'u',
        received_at: 1,
        metadata: JSON.parse('{"__proto__":1,"k":"v"}') as Record<string, number | string>,
      },
      { type: 'identify', id: 'b', user_id: 'u', received_at: 2, attributes: { plan: null } },
    ];
    expect(decodePack(encodePack(entries), 'x')).toEqual(entries);
    const bad = new TextEncoder().encode(`${JSON.stringify(entries[0])}\n{"type":"track","id":"c"}`);
    expect(() => decodePack(bad, 'seq 9')).toThrow(/seq 9 line 2: .*name: required/);
    expect(() => decodePack(new Uint8Array([0xff, 0xfe]), 'seq 10')).toThrow('not UTF-8');
  });
});

describe('nudge ingest', () => {
  const run = promisify(execFile);
  const env = { ...process.env, NUDGE_NAMESPACE: ns.name, NUDGE_PARTITIONS: String(PARTITIONS) };
  const ingest = async (...args: string[]) => {
    try {
      const { stdout, stderr } = await run(
        process.execPath,
        [join(root, 'bin/nudge.js'), 'ingest', ...args],
        { env },
      );
      return { code: 0, stdout, stderr };
    } catch (error) {
      return error as { code: number; stdout: string; stderr: string };
    }
  };

  it('stamps received_at now unless --keep-time, and generates missing ids', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'nudge-ingest-'));
    const file = join(dir, 'new.ndjson');
    await writeFile(
      file,
      `${JSON.stringify({ type: 'track', name: 'n', user_id: 'fresh', received_at: 5 })}\n`,
    );
    const before = Date.now();
    const result = await ingest('--file', file);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('ingest: 1 entries in 1 messages');
    const stored = (await logMessages()).flatMap((m) => m.entries).filter((e) => e.user_id === 'fresh');
    expect(stored).toHaveLength(1);
    expect(stored[0]?.received_at).toBeGreaterThanOrEqual(before);
    expect(stored[0]?.id).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('stops at a bad line naming it, before publishing anything of its chunk', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'nudge-ingest-'));
    const file = join(dir, 'bad.ndjson');
    const lines = (await readFile(onboarding, 'utf8')).trim().split('\n');
    lines.splice(2, 0, '{"type":"track","id":"zz","user_id":"bad"}');
    await writeFile(file, lines.join('\n'));
    const before = (await jsm.streams.info(ns.logStream)).state.messages;
    const result = await ingest('--file', file, '--keep-time');
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('bad.ndjson:3');
    expect(result.stderr).toContain('name: required');
    expect((await jsm.streams.info(ns.logStream)).state.messages).toBe(before);
  });
});
