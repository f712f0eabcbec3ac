// The overview's tuning panel (issue #19): a what-if replay or a limit sweep started over the page's
// range or other dates, what it changes picked from the catalog (no ids to type), its progress
// followed, then its diff or its curve; the runs this tab started are listed to open again.

import { api, problemText } from './nudge-api.js';
import { number, plural } from './format.js';
import { showDiff } from './replay-diff.js';
import { showSweep } from './sweep-curve.js';
import { DAY, span, time } from './times.js';
import { el } from './message-format.js';
import { capText } from './tuning-limits.js';
import { note, recall, remember, runOf, showRuns } from './tuning-runs.js';
import {
  addCap,
  describeTarget,
  fillTargets,
  readSweep,
  readWhatIf,
  showWhatIfFields,
  suggestValues,
} from './tuning-targets.js';

const POLL_MS = 300;
const REPLAY_ID = /^r_[0-9a-f]{16}$/;
const $ = (selector) => document.querySelector(selector);
/** The page's range, `{from, to, words}`, as its header says it now. */
let pageRange;
/** The run shown: following another stops following it. */
let following = 0;
let shownId;

const sleep = (ms) => new Promise((resolve) => window.setTimeout(resolve, ms));

/** The window a run replays: the page's range, or the dates given here (the last one included). */
function windowOf() {
  if ($('#tuning-window').value === 'page') return pageRange();
  const from = Date.parse(`${$('#tuning-from').value}T00:00:00Z`);
  const to = Date.parse(`${$('#tuning-to').value}T00:00:00Z`) + DAY;
  if (Number.isNaN(from) || Number.isNaN(to) || from >= to) return undefined;
  return { from, to };
}

function showWindow() {
  const dates = $('#tuning-window').value === 'dates';
  $('#tuning-dates').hidden = !dates;
  const { from, to } = pageRange();
  $('#tuning-window option[value="page"]').textContent = `the page's range (${span(from, to)})`;
  if (dates && !$('#tuning-from').value) {
    $('#tuning-from').value = time(from, 'day');
    $('#tuning-to').value = time(Math.max(from, to - DAY), 'day');
  }
}

/** What a run changes in words, from its record alone (a run this tab did not start). */
function describeParams(record) {
  const { params } = record;
  if (record.kind === 'sweep') return describeTarget(params.target).name;
  const parts = [];
  if (params.messages?.length) parts.push(`${params.messages.map((m) => m.id).join(', ')} overridden`);
  if (params.caps) parts.push(`global caps → ${params.caps.map(capText).join('; ') || 'none'}`);
  return parts.join(', ') || 'as recorded (nothing changed)';
}

async function start(kind) {
  const error = kind === 'replay' ? '#whatif-error' : '#sweep-error';
  const asked = kind === 'replay' ? readWhatIf() : readSweep();
  if (asked === undefined) return;
  const over = windowOf();
  if (over === undefined) {
    $(error).textContent = 'The window: give a first and a last day, the first not after the last.';
    return;
  }
  $('#tuning').dataset.state = 'starting';
  const button = $(kind === 'replay' ? '#start-replay' : '#start-sweep');
  button.disabled = true;
  try {
    const { replay_id: id } = await api(kind === 'replay' ? '/v1/replays' : '/v1/replays/sweep', {
      method: 'POST',
      body: { from: over.from, to: over.to, ...asked.body },
    });
    remember({
      id,
      kind,
      label: asked.label,
      from: over.from,
      to: over.to,
      started_at: Date.now(),
      status: 'running',
      words: asked.words,
    });
    $('#run-view').scrollIntoView({ block: 'nearest' });
    await open(id);
  } catch (problem) {
    $(error).textContent = problemText(
      problem,
      kind === 'replay' ? 'Starting the replay' : 'Starting the sweep',
    );
    $('#tuning').dataset.state = 'failed';
  } finally {
    button.disabled = false;
  }
}

function showProgress(replay) {
  const bar = $('#run-bar');
  if (replay.entries_total > 0) {
    bar.max = replay.entries_total;
    bar.value = replay.entries_done;
  } else bar.removeAttribute('value');
  const each = replay.kind === 'sweep' ? ', the window once per value' : '';
  $('#run-progress-text').textContent =
    replay.entries_total > 0
      ? `${number(replay.entries_done)} of ${number(replay.entries_total)} entries replayed${each}`
      : 'reading the recorded log…';
}

function showDone(replay, run) {
  $('#run-progress').hidden = true;
  const { report } = replay;
  const sweep = replay.kind === 'sweep';
  // A sweep's total counts the window once per value.
  const entries = sweep ? replay.entries_total / Math.max(1, report.points.length) : report.entries;
  $('#run-caption').textContent =
    `over ${span(report.from, report.to)}: ${plural(entries, 'recorded entry', 'recorded entries')} replayed` +
    `${sweep ? ` once per value (${plural(report.points.length, 'value')})` : ''} · ${replay.replay_id}`;
  $('#diff-view').hidden = replay.kind !== 'replay';
  $('#sweep-view').hidden = replay.kind !== 'sweep';
  if (replay.kind === 'replay') showDiff(report);
  else showSweep(report, run.words ?? describeTarget(report.target));
}

/** Asks once after each run noted as running but not followed now, so that the list says how it ended. */
async function refreshRunning() {
  const stale = recall().filter((run) => run.status === 'running' && run.id !== shownId);
  if (stale.length === 0) return;
  await Promise.all(
    stale.map(async (run) => {
      try {
        note(run.id, { status: (await api(`/v1/replays/${run.id}`)).status });
      } catch (error) {
        if (error.status === 404) note(run.id, { status: 'not found' });
      }
    }),
  );
  showRuns(shownId, open);
}

/** The run's title: its kind as a chip, then what it changes. */
function showTitle(kind, label) {
  const title = $('#run-title');
  title.replaceChildren(label);
  if (kind) title.prepend(el('span', kind, `kind-chip ${kind}`), ' ');
}

/** Shows a run: its progress while it runs (polled), then its report. */
async function open(id) {
  const mine = ++following;
  shownId = id;
  const view = $('#run-view');
  view.hidden = false;
  view.dataset.replayId = id;
  $('#tuning').dataset.state = 'running';
  for (const part of ['#diff-view', '#sweep-view']) $(part).hidden = true;
  $('#run-progress').hidden = false;
  $('#run-bar').removeAttribute('value');
  $('#run-progress-text').textContent = 'asking for the run…';
  const known = runOf(id);
  showTitle(known?.kind, known?.label ?? id);
  $('#run-caption').textContent = known ? `over ${span(known.from, known.to)} · ${id}` : '';
  showRuns(id, open);
  try {
    for (;;) {
      const replay = await api(`/v1/replays/${id}`);
      if (mine !== following) return;
      if (runOf(id) === undefined) {
        const { params } = replay;
        remember({
          id,
          kind: replay.kind,
          label: describeParams(replay),
          from: params.from,
          to: params.to,
          started_at: replay.created_at,
        });
        showTitle(replay.kind, runOf(id).label);
      }
      if (runOf(id).status !== replay.status) {
        note(id, { status: replay.status });
        showRuns(id, open);
      }
      if (replay.status === 'failed') throw new Error(replay.error ?? 'the run failed');
      if (replay.status === 'done') {
        showDone(replay, runOf(id));
        $('#tuning').dataset.state = 'done';
        await refreshRunning();
        return;
      }
      showProgress(replay);
      await sleep(POLL_MS);
    }
  } catch (error) {
    if (mine !== following) return;
    $('#run-bar').value = 0;
    $('#run-progress-text').textContent = problemText(error, 'The run');
    $('#tuning').dataset.state = 'failed';
  }
}

/** Fills the forms' choices from the catalog; the page calls it whenever it loads its range. */
export async function loadTuning() {
  showWindow();
  $('#tuning-problem').textContent = '';
  try {
    const [{ messages }, { caps }] = await Promise.all([api('/v1/messages'), api('/v1/caps')]);
    fillTargets(messages, caps);
    $('#tuning').dataset.catalog = 'ready';
    await refreshRunning();
  } catch (error) {
    $('#tuning-problem').textContent = problemText(error, 'Reading the messages and caps to tune');
  }
}

/** Wires the panel; `range()` gives the page's range as its header says it now. */
export function initTuning(range) {
  pageRange = range;
  $('#tuning-window').addEventListener('change', showWindow);
  $('#whatif-target').addEventListener('change', () => showWhatIfFields());
  $('#sweep-target').addEventListener('change', suggestValues);
  $('#add-cap').addEventListener('click', addCap);
  $('#whatif-form').addEventListener('submit', (event) => {
    event.preventDefault();
    void start('replay');
  });
  $('#sweep-form').addEventListener('submit', (event) => {
    event.preventDefault();
    void start('sweep');
  });
  $('#replay-form').addEventListener('submit', (event) => {
    event.preventDefault();
    const id = $('#replay-input').value.trim();
    if (REPLAY_ID.test(id)) void open(id);
    else
      $('#tuning-problem').textContent =
        `“${id}” is not a replay id: r_ and 16 hex digits, as the API or nudge replay printed it`;
  });
  showRuns(shownId, open);
}
