// `npm run bench:replay [-- --entries N --users N --rounds N] [--impact]`: records a window of N entries
// (1,000,000 by default) in ClickHouse as the live pipeline records it, then replays it from there
// (`replayWindow`, what `nudge replay --from --to` runs) and reports entries/s and the hash of its
// decisions, the same on every round; next to reading the same window back without deciding,
// measured in the same run, and to the live rate of bench:pipeline. `--impact` also times the
// composer's impact preview: the same window replayed with one message's draft in place of it
// (`POST /v1/replays` with `messages`), with the progress it reports. Needs the services.
import { randomUUID } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { longReadsClient } from '../../pipeline/adapters/clickhouse/long-reads-client.ts';
import { migrateAudit } from '../../pipeline/adapters/clickhouse/audit-schema.ts';
import { ClickHouseAuditSink } from '../../pipeline/adapters/clickhouse/clickhouse-audit-sink.ts';
import { ClickHouseRecordedLog } from '../../pipeline/adapters/clickhouse/recorded-log.ts';
import {
  applyCaps,
  applyMessages,
  catalogHistory,
  catalogStream,
  ensureCatalogStream,
  readCatalog,
} from '../../pipeline/adapters/nats/catalog-stream.ts';
import { connectNats } from '../../pipeline/adapters/nats/connect-nats.ts';
import { loadConfig } from '../../pipeline/config/load-config.ts';
import { compileCaps } from '../../pipeline/core/caps.ts';
import type { LogEntry } from '../../pipeline/core/log-entry.ts';
import { MessageListSchema } from '../../pipeline/core/message-schema.ts';
import { partitionOf } from '../../pipeline/core/partition.ts';
import { buildRuleIndex } from '../../pipeline/core/rule-index.ts';
import { Namespace } from '../../pipeline/namespace.ts';
import { parseEntry } from '../../pipeline/parse-entry.ts';
import type { PositionedEntry } from '../../pipeline/ports/audit-sink.ts';
import type { PositionedDecision } from '../../pipeline/ports/decision-sink.ts';
import type { LineSink } from '../../pipeline/ports/line-sink.ts';
import { Replayer } from '../../pipeline/replay/replayer.ts';
import { replayWindow } from '../../pipeline/replay/window-replay.ts';
import { ReplayThreads } from '../../bin/replay-threads.ts';
import { workloadCaps, workloadMessages, writeWorkloadLog } from '../core/workload.ts';

const { values } = parseArgs({
  options: {
    entries: { type: 'string', default: '1000000' },
    users: { type: 'string', default: '100000' },
    rounds: { type: 'string', default: '2' },
    threads: { type: 'string', default: '2' },
    impact: { type: 'boolean', default: false },
  },
});
const threads = Number(values.threads);
const size = { entries: Number(values.entries), users: Number(values.users), messages: 100, events: 100 };
const config = loadConfig(process.env);
const log = (line: string) => process.stderr.write(`bench: ${line}\n`);
const ns = new Namespace(`bench_replay_${randomUUID().replaceAll('-', '').slice(0, 12)}`);
const clickhouse = longReadsClient(config.clickhouseUrl);
const nc = await connectNats(config.natsUrl, 'bench replay');
const PACK = 100;

/** The workload's entries, parsed as the log's readers parse them. */
async function workload(): Promise<LogEntry[]> {
  const entries: LogEntry[] = [];
  const sink: LineSink = {
    writeLine: (line) => {
      entries.push(parseEntry(line, () => 'workload'));
    },
    flush: () => Promise.resolve(),
    close: () => Promise.resolve(),
  };
  await writeWorkloadLog(size, sink);
  return entries;
}

/**
 * Records the entries as the pipeline does: in the catalog the messages and caps, in ClickHouse
 * every entry with its partition, its log message (up to 100 entries of one partition) and its
 * place there, and every decision the core makes with the caps version it used.
 */
async function record(
  entries: readonly LogEntry[],
): Promise<{ from: number; to: number; decisions: number }> {
  const [js, jsm] = [nc.jetstream(), await nc.jetstreamManager()];
  await ensureCatalogStream(jsm, ns);
  const first = entries[0]?.received_at ?? 0;
  await applyMessages(js, jsm, ns, MessageListSchema.parse(workloadMessages(size)), first);
  await applyCaps(js, jsm, ns, workloadCaps);
  const catalog = await readCatalog(jsm, ns);
  const replayer = new Replayer(buildRuleIndex(catalog.messages), compileCaps(catalog.caps));
  await migrateAudit(clickhouse, ns.database);
  const audit = new ClickHouseAuditSink(clickhouse, ns.database);
  const partitions = config.partitions;
  const packs = new Map<number, { seq: number; size: number }>();
  let seq = 0;
  let rows: PositionedEntry[] = [];
  let made: PositionedDecision[] = [];
  let decisions = 0;
  for (const entry of entries) {
    const partition = partitionOf(entry.user_id, partitions);
    let pack = packs.get(partition);
    if (pack === undefined || pack.size === PACK) {
      // One stream for all partitions, as JetStream numbers them.
      pack = { seq: ++seq, size: 0 };
      packs.set(partition, pack);
    }
    rows.push({ entry, partition, seq: pack.seq, position: pack.size++ });
    for (const decision of replayer.apply(entry))
      made.push({ decision, partition, seq: pack.seq, caps_version: catalog.capsVersion });
    if (rows.length >= 200_000) {
      await audit.insertEntries(rows);
      await audit.insertDecisions(made);
      decisions += made.length;
      log(`recorded ${rows.length + decisions} rows so far…`);
      rows = [];
      made = [];
    }
  }
  await audit.insertEntries(rows);
  await audit.insertDecisions(made);
  decisions += made.length;
  const last = entries[entries.length - 1]?.received_at ?? 0;
  return { from: first, to: last + 1, decisions };
}

try {
  log(
    `${size.entries.toLocaleString('en-US')} entries over ${size.users.toLocaleString('en-US')} users, ${size.messages} messages on ${size.events} events…`,
  );
  const entries = await workload();
  const window = await record(entries);
  log(`recorded ${window.decisions.toLocaleString('en-US')} decisions; replaying…`);
  const recorded = new ClickHouseRecordedLog(clickhouse, ns.database);
  // The baseline: the same window read back, merged with its decisions, in log order, not decided.
  let read = { ms: Infinity, entries: 0 };
  for (let round = 0; round < Number(values.rounds); round++) {
    const started = performance.now();
    let count = 0;
    for await (const pack of recorded.packs(await recorded.window(window.from, window.to)))
      count += pack.entries.length;
    read = { ms: Math.min(read.ms, performance.now() - started), entries: count };
  }
  const catalog = await catalogHistory(nc.jetstream(), ns);
  // As `nudge replay --from --to` and the API's replays run it: the partitions on threads.
  const runner = new ReplayThreads({ url: config.clickhouseUrl, database: ns.database }, threads);
  const runs: { ms: number; hash: string; entries: number; decisions: number; identical: boolean }[] = [];
  for (let round = 0; round < Number(values.rounds); round++) {
    const started = performance.now();
    const report = await replayWindow({ recorded, catalog, runner }, window.from, window.to);
    runs.push({ ms: performance.now() - started, ...report });
    log(
      `round ${round + 1}: ${Math.round(report.entries / ((performance.now() - started) / 1000))} entries/s, hash ${report.hash}, identical ${String(report.identical)}`,
    );
  }
  type ImpactRun = { ms: number; ticks: number; firstTickMs: number; entries: number; users?: number };
  let impact: { scoped: ImpactRun; everyone: ImpactRun } | undefined;
  if (values.impact) {
    // The composer's draft: the first message with its minimum interval changed, as a person tunes it.
    const [draft] = MessageListSchema.parse(workloadMessages(size)).slice(0, 1);
    if (draft === undefined) throw new Error('the workload has no message');
    const changed = { ...draft, frequency: { ...draft.frequency, min_interval: 4 * 3_600_000 } };
    const preview = async (scope: 'affected' | 'all') => {
      const started = performance.now();
      let ticks = 0;
      let firstTickMs = 0;
      const report = await replayWindow(
        {
          recorded,
          catalog,
          overrides: { messages: [changed] },
          scope,
          runner,
          onProgress: (done, total) => {
            if (ticks++ === 0) firstTickMs = performance.now() - started;
            if (ticks % 100 === 0)
              log(
                `impact preview (${scope}): ${done.toLocaleString('en-US')} of ${total.toLocaleString('en-US')}`,
              );
          },
        },
        window.from,
        window.to,
      );
      const run: ImpactRun = {
        ms: performance.now() - started,
        ticks,
        firstTickMs,
        entries: report.entries,
        ...(report.scope === undefined ? {} : { users: report.scope.users }),
      };
      log(
        `impact preview (${scope}): ${(run.ms / 1000).toFixed(1)} s, ${ticks} progress reports, the first after ${(firstTickMs / 1000).toFixed(1)} s`,
      );
      const mine = report.messages.find((m) => m.message_id === changed.id);
      return { run, changes: JSON.stringify([report.flips, report.users_affected, mine]) };
    };
    // What the composer runs (only the users who had the draft's trigger), then everyone: the
    // same changes, or the bench fails.
    const scoped = await preview('affected');
    const everyone = await preview('all');
    if (scoped.changes !== everyone.changes)
      throw new Error('the impact preview of the affected users differs from the one of everyone');
    impact = { scoped: scoped.run, everyone: everyone.run };
  }
  const best = runs.reduce((a, b) => (b.ms < a.ms ? b : a));
  const hashes = new Set(runs.map((r) => r.hash));
  if (hashes.size !== 1) throw new Error(`the replays' hashes differ: ${[...hashes].join(', ')}`);
  const pipeline = await readFile(new URL('../out/pipeline.json', import.meta.url), 'utf8')
    .then((text) => JSON.parse(text) as { pipeline?: { entries_per_s?: number } })
    .catch(() => undefined);
  const live = pipeline?.pipeline?.entries_per_s;
  const rate = (n: number, ms: number) => Math.round(n / (ms / 1000));
  const table = [
    `${best.entries.toLocaleString('en-US')} entries, ${best.decisions.toLocaleString('en-US')} decisions (100 messages on 100 events, ${size.users.toLocaleString('en-US')} users, a week of traffic), best of ${runs.length}; ${new Date().toISOString().slice(0, 10)}.`,
    '',
    '| run | seconds | entries/s | ÷ reading the window |',
    '| --- | ---: | ---: | ---: |',
    `| reading the window back (baseline) | ${(read.ms / 1000).toFixed(1)} | ${rate(read.entries, read.ms).toLocaleString('en-US')} | 1 |`,
    `| replaying it | ${(best.ms / 1000).toFixed(1)} | ${rate(best.entries, best.ms).toLocaleString('en-US')} | ${(read.ms / best.ms).toFixed(2)} |`,
    ...(impact === undefined
      ? []
      : [
          `| impact preview, the draft's trigger users only (what the composer runs) | ${(impact.scoped.ms / 1000).toFixed(1)} | ${rate(impact.scoped.entries, impact.scoped.ms).toLocaleString('en-US')} | ${(read.ms / impact.scoped.ms).toFixed(2)} |`,
          `| impact preview, every user | ${(impact.everyone.ms / 1000).toFixed(1)} | ${rate(impact.everyone.entries, impact.everyone.ms).toLocaleString('en-US')} | ${(read.ms / impact.everyone.ms).toFixed(2)} |`,
        ]),
    '',
    ...(impact === undefined
      ? []
      : [
          `The composer's impact preview replayed the ${impact.scoped.entries.toLocaleString('en-US')} entries of the ${(impact.scoped.users ?? 0).toLocaleString('en-US')} users who had the draft's trigger event, and found the same flips, users affected and draft counts as replaying everyone (checked in the run). It reported its progress ${impact.scoped.ticks.toLocaleString('en-US')} times (every 10,000 entries), the first after ${(impact.scoped.firstTickMs / 1000).toFixed(1)} s (reading those users' states first).`,
          '',
        ]),
    `Hash of the decisions, every round: \`${best.hash}\`; identical to the recorded decisions: ${String(best.identical)}.` +
      (live === undefined
        ? ' (No bench:pipeline result in bench/out/ to compare with: run `npm run bench:pipeline`.)'
        : ` The live pipeline (bench:pipeline, bench/out/pipeline.json) decided ${live.toLocaleString('en-US')} entries/s end to end: replay is ${(rate(best.entries, best.ms) / live).toFixed(1)}× that.`),
  ].join('\n');
  process.stdout.write(`${table}\n`);
  const dir = new URL('../out/', import.meta.url).pathname;
  await mkdir(dir, { recursive: true });
  await writeFile(
    `${dir}replay.json`,
    `${JSON.stringify({ size, read, runs, impact: impact ?? null, live_entries_per_s: live ?? null }, null, 2)}\n`,
  );
  if (size.entries >= 1_000_000) {
    const doc = new URL('../README.md', import.meta.url).pathname;
    const text = await readFile(doc, 'utf8');
    // The impact case (a week at a million entries a day) keeps its own block.
    const block = impact === undefined ? 'bench:replay' : 'bench:replay-impact';
    const marked = new RegExp(`(<!-- ${block}:start -->\n)[\\s\\S]*?(<!-- ${block}:end -->)`);
    if (marked.test(text)) await writeFile(doc, text.replace(marked, `$1\n${table}\n\n$2`));
  }
} finally {
  await (await nc.jetstreamManager()).streams.delete(catalogStream(ns)).catch(() => false);
  await nc.drain();
  await clickhouse.command({ query: `DROP DATABASE IF EXISTS \`${ns.database}\`` });
  await clickhouse.close();
}
