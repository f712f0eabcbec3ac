import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ClickHouseClient } from '@clickhouse/client';
import type { JetStreamManager } from 'nats';
import type { WorkloadSize } from '../../bench/core/workload.ts';
import { workloadCaps, workloadMessages, writeWorkloadLog } from '../../bench/core/workload.ts';
import { NdjsonLogFile } from '../../pipeline/adapters/file/ndjson-log-file.ts';
import { StreamLineSink } from '../../pipeline/adapters/file/stream-line-sink.ts';
import { readCatalog } from '../../pipeline/adapters/nats/catalog-stream.ts';
import { compileCaps } from '../../pipeline/core/caps.ts';
import { buildRuleIndex } from '../../pipeline/core/rule-index.ts';
import type { Namespace } from '../../pipeline/namespace.ts';
import { Replayer } from '../../pipeline/replay/replayer.ts';

/**
 * What the end-to-end suites share: a generated workload written to files for the CLI, and the
 * decisions compared as lines (`decision_id message_version outcome reason body`), those the core
 * decides for the file against those ClickHouse holds.
 */
export type WorkloadFiles = { readonly messages: string; readonly caps: string; readonly log: string };

/** The messages, caps and log of a generated workload of `size`, in a new temporary folder. */
export async function writeWorkloadFiles(prefix: string, size: WorkloadSize): Promise<WorkloadFiles> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  const files = {
    messages: join(dir, 'messages.json'),
    caps: join(dir, 'caps.json'),
    log: join(dir, 'log.ndjson'),
  };
  await writeFile(files.messages, JSON.stringify(workloadMessages(size)));
  await writeFile(files.caps, JSON.stringify(workloadCaps));
  await writeWorkloadLog(size, StreamLineSink.toFile(files.log));
  return files;
}

type DecisionFields = {
  readonly decision_id: string;
  readonly message_version: number;
  readonly outcome: string;
  readonly reason: string | null;
  readonly body: string | null;
};

const lineOf = (d: DecisionFields) =>
  `${d.decision_id} ${d.message_version} ${d.outcome} ${d.reason ?? '-'} ${d.body ?? '-'}`;

/** What `nudge replay` decides for the file with the messages as stored (their live_since as the store set it), sorted. */
export async function expectedDecisions(
  jsm: JetStreamManager,
  ns: Namespace,
  logFile: string,
): Promise<string[]> {
  const catalog = await readCatalog(jsm, ns);
  const replayer = new Replayer(buildRuleIndex(catalog.messages), compileCaps(catalog.caps));
  const decisions: string[] = [];
  for await (const batch of new NdjsonLogFile(logFile).batches())
    for (const entry of batch)
      for (const d of replayer.apply(entry)) decisions.push(lineOf({ ...d, body: d.content?.body ?? null }));
  return decisions.sort();
}

/** The namespace's decisions as ClickHouse holds them (one row an id), sorted. */
export async function storedDecisions(clickhouse: ClickHouseClient, ns: Namespace): Promise<string[]> {
  const result = await clickhouse.query({
    query: `SELECT decision_id, message_version, outcome, reason, body FROM \`${ns.database}\`.decisions FINAL`,
    format: 'JSONEachRow',
  });
  return (await result.json<DecisionFields>()).map(lineOf).sort();
}

/** Polls ClickHouse until it holds `count` decisions (the matcher and writers run on their own time). */
export async function awaitDecisions(
  clickhouse: ClickHouseClient,
  ns: Namespace,
  count: number,
  timeoutMs = 90_000,
): Promise<string[]> {
  const deadline = Date.now() + timeoutMs;
  let stored: string[] = [];
  while (Date.now() < deadline) {
    // Refused while the matcher has yet to make the database: none yet.
    stored = await storedDecisions(clickhouse, ns).catch(() => []);
    if (stored.length >= count) return stored;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  return stored;
}
