// A line diff of two texts (a message's versions as JSON), by the longest common subsequence of
// their lines: a definition is tens of lines, so the quadratic table is a few thousand cells.

/**
 * The lines of `after` against `before`, in order: each `{kind, text}` with kind `same`,
 * `removed` (only in before) or `added` (only in after); a changed line is its removal, then its
 * addition.
 */
export function lineDiff(before, after) {
  const a = before.split('\n');
  const b = after.split('\n');
  // common[i][j]: the longest common subsequence of a[i..] and b[j..].
  const common = Array.from({ length: a.length + 1 }, () => new Array(b.length + 1).fill(0));
  for (let i = a.length - 1; i >= 0; i--)
    for (let j = b.length - 1; j >= 0; j--)
      common[i][j] = a[i] === b[j] ? common[i + 1][j + 1] + 1 : Math.max(common[i + 1][j], common[i][j + 1]);
  const lines = [];
  let [i, j] = [0, 0];
  while (i < a.length || j < b.length) {
    if (i < a.length && j < b.length && a[i] === b[j]) {
      lines.push({ kind: 'same', text: a[i] });
      i++;
      j++;
    } else if (j < b.length && (i === a.length || common[i][j + 1] >= common[i + 1][j])) {
      lines.push({ kind: 'added', text: b[j] });
      j++;
    } else {
      lines.push({ kind: 'removed', text: a[i] });
      i++;
    }
  }
  return orderChanges(lines);
}

/** Within each run of changes, the removed lines before the added ones: "was … now …" reads in that order. */
function orderChanges(lines) {
  const ordered = [];
  let run = [];
  const flush = () => {
    ordered.push(...run.filter((l) => l.kind === 'removed'), ...run.filter((l) => l.kind === 'added'));
    run = [];
  };
  for (const line of lines) {
    if (line.kind === 'same') {
      flush();
      ordered.push(line);
    } else run.push(line);
  }
  flush();
  return ordered;
}

/** Top-level keys in the order the README's message language lists them; any other after them. */
const KEY_ORDER = [
  'id',
  'version',
  'name',
  'channel',
  'state',
  'live_since',
  'priority',
  'trigger',
  'audience',
  'frequency',
  'global_cap_exempt',
  'schedule',
  'template',
  'goal',
];

/** Durations the store keeps in ms, and the instant it sets: written as a person reads them. */
const DURATIONS = new Set(['min_interval', 'defer_max', 'within']);

/**
 * A version as the diff reads it: JSON, two spaces, its keys in one order whatever the store's;
 * durations in the message language (`"1h"`, not 3600000, written by `duration`), `live_since` as
 * an ISO time, and without `version`, which differs between any two (the choice of versions says it).
 */
export function definitionText(message, duration) {
  const keys = [
    ...KEY_ORDER.filter((k) => k in message && k !== 'version'),
    ...Object.keys(message).filter((k) => !KEY_ORDER.includes(k)),
  ];
  const readable = (key, value) => {
    if (DURATIONS.has(key) && typeof value === 'number') return duration(value);
    if (key === 'live_since' && typeof value === 'number') return new Date(value).toISOString();
    return value;
  };
  return JSON.stringify(Object.fromEntries(keys.map((k) => [k, message[k]])), readable, 2);
}
