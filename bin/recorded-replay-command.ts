import { ReplayThreads } from './replay-threads.ts';
import { parseArgs } from 'node:util';
import { longReadsClient } from '../pipeline/adapters/clickhouse/long-reads-client.ts';
import { ClickHouseRecordedLog } from '../pipeline/adapters/clickhouse/recorded-log.ts';
import { ClickHouseReplayStore } from '../pipeline/adapters/clickhouse/replay-store.ts';
import { migrateAudit } from '../pipeline/adapters/clickhouse/audit-schema.ts';
import { readJsonDefinitions } from '../pipeline/adapters/file/json-definitions-file.ts';
import { catalogHistory } from '../pipeline/adapters/nats/catalog-stream.ts';
import { connectNats } from '../pipeline/adapters/nats/connect-nats.ts';
import type { Config } from '../pipeline/config/load-config.ts';
import { loadConfig, namespaceOf } from '../pipeline/config/load-config.ts';
import { formatDuration, parseDuration } from '../pipeline/core/duration.ts';
import { INSTANT_HINT, parseInstantInput, resolveInstant } from '../pipeline/core/instant.ts';
import { GlobalCapListSchema, MessageListSchema } from '../pipeline/core/message-schema.ts';
import type { ReplayRequest, SweepReport, SweepRequest, SweepTarget } from '../pipeline/replay/replay-job.ts';
import { runReplayJob } from '../pipeline/replay/replay-job.ts';
import { newReplayId } from '../pipeline/replay/replay-id.ts';
import type { ReplayReport } from '../pipeline/replay/replay-report.ts';
import { UsageError } from './usage-error.ts';

/**
 * Runs a replay or a sweep of the recorded log on the configured services: the job itself is the
 * core's and the replay runner's; this composes ClickHouse (the recorded log, where the results
 * go) and NATS (the catalog's history) around it.
 */
export async function runRecorded(
  config: Config,
  replayId: string,
  request: ReplayRequest | SweepRequest,
  onProgress?: (done: number, total: number) => void,
) {
  const ns = namespaceOf(config);
  const clickhouse = longReadsClient(config.clickhouseUrl);
  const nc = await connectNats(config.natsUrl, `nudge replay ${replayId}`);
  try {
    await migrateAudit(clickhouse, ns.database);
    const store = new ClickHouseReplayStore(clickhouse, ns.database, () => Date.now());
    await store.migrate();
    const progressing = {
      save: (record: Parameters<typeof store.save>[0]) => {
        onProgress?.(record.entries_done, record.entries_total);
        return store.save(record);
      },
      get: (id: string) => store.get(id),
      insertDecisions: store.insertDecisions.bind(store),
    };
    return await runReplayJob(
      {
        recorded: new ClickHouseRecordedLog(clickhouse, ns.database),
        catalog: () => catalogHistory(nc.jetstream(), ns),
        store: progressing,
        now: () => Date.now(),
        runner: new ReplayThreads({ url: config.clickhouseUrl, database: ns.database }),
      },
      replayId,
      request,
    );
  } finally {
    await nc.drain();
    await clickhouse.close();
  }
}

/** `nudge replay --from <time> --to <time> [--messages <overrides.json>] [--caps <caps.json>]` */
export async function recordedReplayCommand(args: string[]): Promise<void> {
  const values = parse(args, {
    from: { type: 'string' },
    to: { type: 'string' },
    messages: { type: 'string' },
    caps: { type: 'string' },
  });
  const request: ReplayRequest = {
    kind: 'replay',
    ...range(values),
    messages:
      values.messages === undefined
        ? undefined
        : await readJsonDefinitions(values.messages, MessageListSchema),
    caps: values.caps === undefined ? undefined : await readJsonDefinitions(values.caps, GlobalCapListSchema),
  };
  const report = (await run(request)) as ReplayReport;
  if (report.entries === 0) {
    process.stderr.write(
      `replay: the recorded log has no entries from ${iso(request.from)} to ${iso(request.to)} in namespace ` +
        `${loadConfig(process.env).namespace}: nothing was replayed (the last hour: --from now-1h --to now)\n`,
    );
    return;
  }
  const verdict = report.identical
    ? 'identical to the recorded decisions'
    : `${report.differences} decisions differ from the recorded ones (${report.flips.total} changed outcome, ${report.users_affected} users)`;
  process.stderr.write(
    `replay: ${report.entries} entries, ${report.decisions} decisions: ${verdict}; hash ${report.hash}\n`,
  );
}

/** `nudge sweep --from --to (--message <id> --limit min_interval|max_sends | --cap <n> --field max|per) --values <v,…>` */
export async function sweepCommand(args: string[]): Promise<void> {
  const values = parse(args, {
    from: { type: 'string' },
    to: { type: 'string' },
    message: { type: 'string' },
    limit: { type: 'string' },
    cap: { type: 'string' },
    field: { type: 'string' },
    values: { type: 'string' },
  });
  const target = sweepTarget(values);
  if (values.values === undefined)
    throw new UsageError('--values <v,v,…> is required (durations such as 15m,1h, or counts)');
  const request: SweepRequest = {
    kind: 'sweep',
    ...range(values),
    target,
    values: values.values.split(',').map((text) => sweepValue(text.trim(), target)),
  };
  const report = (await run(request)) as SweepReport;
  const swept =
    'message' in report.target
      ? `${report.target.message}'s ${report.target.limit}`
      : `cap ${report.target.cap}'s ${report.target.field}`;
  const shown = (value: number | null) =>
    value === null ? 'none' : sweepIsDuration(report.target) ? formatDuration(value) : String(value);
  process.stderr.write(
    `sweep of ${swept}: recorded ${report.recorded.sent} sends to ${report.recorded.users_reached} users; ` +
      report.points.map((p) => `${shown(p.value)}: ${p.sent} sends, ${p.users_reached} users`).join('; ') +
      '\n',
  );
}

const iso = (ms: number) => new Date(ms).toISOString();

const sweepIsDuration = (target: SweepTarget) =>
  'message' in target ? target.limit === 'min_interval' : target.field === 'per';

async function run(request: ReplayRequest | SweepRequest) {
  const config = loadConfig(process.env);
  const replayId = newReplayId();
  process.stderr.write(
    `replay: ${replayId} (decisions in ${config.namespace}.replay_decisions, report in ${config.namespace}.replays)\n`,
  );
  const started = performance.now();
  let shown = '';
  const report = await runRecorded(config, replayId, request, (done, total) => {
    const line = `${done} of ${total} entries (${Math.round((100 * done) / total)}%)`;
    // The record is saved as it runs and once more when done: a line is shown once.
    if (total > 0 && line !== shown) process.stderr.write(`replay: ${line}\n`);
    shown = line;
  });
  process.stdout.write(`${JSON.stringify({ replay_id: replayId, ...report }, null, 2)}\n`);
  process.stderr.write(`replay: done in ${((performance.now() - started) / 1000).toFixed(1)} s\n`);
  return report;
}

type Options = Record<string, { type: 'string' }>;

function parse<O extends Options>(args: string[], options: O) {
  try {
    return parseArgs({ args, options, strict: true, allowPositionals: false }).values as Partial<
      Record<keyof O, string>
    >;
  } catch (error) {
    throw new UsageError((error as Error).message, { cause: error });
  }
}

function range(values: Partial<Record<'from' | 'to', string>>): { from: number; to: number } {
  const now = Date.now();
  const instant = (name: 'from' | 'to') => {
    const text = values[name];
    if (text === undefined) throw new UsageError(`--${name} <time> is required: ${INSTANT_HINT}`);
    const instant = parseInstantInput(text);
    if (instant === undefined) throw new UsageError(`--${name} ${JSON.stringify(text)}: ${INSTANT_HINT}`);
    return resolveInstant(instant, now);
  };
  const from = instant('from');
  const to = instant('to');
  if (from >= to) throw new UsageError('--from must be before --to');
  return { from, to };
}

function sweepTarget(values: Partial<Record<'message' | 'limit' | 'cap' | 'field', string>>): SweepTarget {
  if (values.message !== undefined) {
    if (values.limit !== 'min_interval' && values.limit !== 'max_sends')
      throw new UsageError('--limit min_interval|max_sends is required with --message');
    return { message: values.message, limit: values.limit };
  }
  if (values.cap !== undefined) {
    const cap = Number(values.cap);
    if (!Number.isInteger(cap) || cap < 0)
      throw new UsageError('--cap <n>: the place of the cap in the caps list, from 0');
    if (values.field !== 'max' && values.field !== 'per')
      throw new UsageError('--field max|per is required with --cap');
    return { cap, field: values.field };
  }
  throw new UsageError('--message <id> --limit … or --cap <n> --field … is required');
}

function sweepValue(text: string, target: SweepTarget): number | null {
  const isDuration = sweepIsDuration(target);
  if (text === 'none' && !isDuration && 'message' in target) return null;
  const value = isDuration ? (/^\d+$/.test(text) ? Number(text) : parseDuration(text)) : Number(text);
  if (value === undefined || !Number.isInteger(value) || value < 0)
    throw new UsageError(
      `--values: ${JSON.stringify(text)} is not ${isDuration ? 'a duration (15m, 1h, or ms)' : 'a whole number'}`,
    );
  return value;
}
