import { execFile } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const root = new URL('../..', import.meta.url).pathname;
const bin = join(root, 'bin/nudge.js');
const run = promisify(execFile);

async function nudge(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [bin, ...args], { cwd: root });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

const scratch = await mkdtemp(join(tmpdir(), 'nudge-eligibility-'));
const log = join(scratch, 'log.ndjson');
const messages = join(scratch, 'messages.json');
const caps = join(scratch, 'caps.json');
const line = (id: string, user: string, iso: string) =>
  JSON.stringify({
    type: 'track',
    id,
    user_id: user,
    name: 'upload-completed',
    received_at: Date.parse(iso),
  });
await writeFile(
  log,
  [
    line('t1', 'u1', '2026-12-07T23:00:00Z'), // held for 09:00 on the 8th
    line('t2', 'u2', '2026-12-07T12:00:00Z'),
    line('t3', 'u1', '2026-12-08T12:00:00Z'), // after the question below: not counted
  ].join('\n') + '\n',
);
await writeFile(
  messages,
  JSON.stringify([
    {
      id: 'upload-ready',
      channel: 'banner',
      state: 'live',
      trigger: { event: 'upload-completed' },
      frequency: { min_interval: '1h' },
      schedule: { timezone: 'UTC', from: '09:00', to: '18:00', outside: 'defer' },
      template: { body: 'ready' },
    },
  ]),
);
await writeFile(caps, JSON.stringify([{ max: 1, per: '1d' }]));

describe('nudge eligibility', () => {
  it("answers from the user's entries up to --at, as the API does: the first time every check passes together", async () => {
    const answer = await nudge(
      'eligibility',
      '--log',
      log,
      '--messages',
      messages,
      '--user',
      'u1',
      '--message',
      'upload-ready',
      '--at',
      '2026-12-07T23:30:00Z',
    );
    expect(answer.code).toBe(0);
    expect(JSON.parse(answer.stdout)).toEqual({
      user_id: 'u1',
      message_id: 'upload-ready',
      message_version: 1,
      at: Date.parse('2026-12-07T23:30:00Z'),
      eligible: false,
      reason: 'schedule',
      eligible_at: Date.parse('2026-12-08T10:00:00Z'),
      explanation:
        'suppressed by the schedule: it was mon 23:30 in UTC, outside the window; it opens again at 2026-12-08T09:00:00.000Z; with every check, first eligible at 2026-12-08T10:00:00.000Z',
      details: {
        timezone: 'UTC',
        local_day: 'mon',
        local_time: '23:30',
        opens_at: Date.parse('2026-12-08T09:00:00Z'),
      },
    });
  });

  it('counts the global caps given: a day after the held send', async () => {
    const answer = await nudge(
      'eligibility',
      '--log',
      log,
      '--messages',
      messages,
      '--caps',
      caps,
      '--user',
      'u1',
      '--message',
      'upload-ready',
      '--at',
      '2026-12-07T23:30:00Z',
    );
    expect(JSON.parse(answer.stdout)).toMatchObject({
      reason: 'schedule',
      eligible_at: Date.parse('2026-12-09T09:00:00Z'),
    });
  });

  it('a user the log never names is eligible when the window is open', async () => {
    const answer = await nudge(
      'eligibility',
      '--log',
      log,
      '--messages',
      messages,
      '--user',
      'nobody',
      '--message',
      'upload-ready',
      '--at',
      '2026-12-08T10:00:00Z',
    );
    expect(JSON.parse(answer.stdout)).toMatchObject({
      eligible: true,
      reason: null,
      eligible_at: Date.parse('2026-12-08T10:00:00Z'),
    });
  });

  it('names what is wrong: a missing option, a bad time, a message the file does not hold', async () => {
    const missing = await nudge(
      'eligibility',
      '--log',
      log,
      '--messages',
      messages,
      '--message',
      'upload-ready',
    );
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('--user <id> is required');
    const badTime = await nudge(
      'eligibility',
      '--log',
      log,
      '--messages',
      messages,
      '--user',
      'u1',
      '--message',
      'upload-ready',
      '--at',
      'tomorrow',
    );
    expect(badTime.code).toBe(2);
    expect(badTime.stderr).toContain('--at "tomorrow"');
    const unknown = await nudge(
      'eligibility',
      '--log',
      log,
      '--messages',
      messages,
      '--user',
      'u1',
      '--message',
      'welcome',
    );
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('no message "welcome": the file holds "upload-ready"');
  });
});
