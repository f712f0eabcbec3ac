// `npm run chaos -- <scenario|all> [--cluster] [--full] [--rate N] [--users N] [--seed N]`: runs fault
// scenarios (issue #6) on a private NATS, Redis and ClickHouse (with `--cluster`, the clusters' scenarios
// on a private 3-node NATS cluster and Redis Cluster, issue #21), checks each run, prints the figures
// and writes them to bench/out/chaos/<scenario>-<length>.json. Exits 1 when a check fails.
import { mkdir, writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import type { ArrivalCounts } from './run-checker.ts';
import { passed } from './run-checker.ts';
import type { ScenarioResult } from './scenarios.ts';
import { CLUSTER_SCENARIOS, runScenario, SCENARIOS } from './scenarios.ts';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    full: { type: 'boolean', default: false },
    cluster: { type: 'boolean', default: false },
    rate: { type: 'string', default: '400' },
    users: { type: 'string', default: '2000' },
    seed: { type: 'string', default: '1' },
    port: { type: 'string', default: '24222' },
  },
});
const wanted = positionals[0] ?? 'all';
const names =
  wanted === 'all' ? (values.cluster ? CLUSTER_SCENARIOS : SCENARIOS).map((s) => s.name) : [wanted];
const out = new URL('../../bench/out/chaos/', import.meta.url);
await mkdir(out, { recursive: true });
const results: ScenarioResult[] = [];
for (const name of names) {
  const result = await runScenario(name, values.full ? 'full' : 'short', {
    basePort: Number(values.port),
    rate: Number(values.rate),
    users: Number(values.users),
    seed: Number(values.seed),
    cluster: values.cluster,
    report: (line) => process.stderr.write(`chaos: ${line}\n`),
  });
  results.push(result);
  await writeFile(new URL(`${name}-${result.length}.json`, out), JSON.stringify(result, null, 2));
  process.stdout.write(`${row(result)}\n`);
  for (const example of result.verdict.examples) process.stdout.write(`  ${example}\n`);
}
process.exitCode = results.every((r) => passed(r.verdict)) ? 0 : 1;

function row(r: ScenarioResult): string {
  const v = r.verdict;
  const violations = v.violations.max_sends + v.violations.min_interval + v.violations.global_cap;
  return [
    `${r.scenario} (${r.length}, ${r.seconds} s): ${passed(v) ? 'PASS' : 'FAIL'}`,
    `${v.acked} acknowledged, ${v.entries} entries, ${v.decisions} decisions, ${v.sends} sends, ${v.deadLetters} dead letters`,
    `faults: ${r.faults.injected} × ${r.faults.what}${r.faults.notes.length > 0 ? ` (${r.faults.notes.join('; ')})` : ''}`,
    `missing entries ${v.missingEntries}, missing decisions ${v.missingDecisions}, extra ${v.extraDecisions}, wrong ${v.wrongDecisions}, duplicates ${v.duplicates}, deliveries − sends ${v.deliveryDifference}`,
    `over-sends ${violations} (max_sends ${v.violations.max_sends}, min_interval ${v.violations.min_interval}, caps ${v.violations.global_cap}), Redis ≠ ClickHouse ${v.redisMismatches}`,
    ...(r.http === undefined
      ? []
      : [
          `HTTP client: ${r.http.batches} batches of 5, answers ${JSON.stringify(r.http.statuses)}, ${r.http.retries} sent again`,
        ]),
    ...(v.held === undefined
      ? []
      : [
          `webhook: ${v.held.sends} sends, ${v.held.held} of them held; ${v.held.cancelled} cancelled`,
          stage('on the deliveries stream', v.held.released),
          `${stage('at the receiver', v.held.received)}; ${v.held.unanswered} answers lost`,
        ]),
    `replay identical ${String(v.replay.identical)}, hash ${v.replay.hash.slice(0, 16)}… ${v.replay.hash === v.replay.hashAgain ? 'the same twice' : 'DIFFERS'}; settled ${(r.settleMs / 1000).toFixed(1)} s after the load`,
  ].join('\n  ');
}

function stage(where: string, c: ArrivalCounts): string {
  return `${where}: ${c.delivered} delivered, lost ${c.lost}, twice ${c.twice}, early ${c.early}, unexpected ${c.unexpected}; held sends ${c.heldLateness.median} ms (median), ${c.heldLateness.max} ms (most) after they were due`;
}
