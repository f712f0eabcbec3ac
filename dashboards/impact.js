// The impact preview: a draft replayed over the recorded log (POST /v1/replays with the draft as a
// message override) against what was decided: its sends and why the rest were not sent, before and
// after, the users affected and the flipped decisions with why, with progress while it runs.

import { el, when } from './message-format.js';
import { api, problemText } from './nudge-api.js';

const $ = (selector) => document.querySelector(selector);
const POLL_MS = 300;
const WINDOWS = { 'now-1d': 'the last 24 hours', 'now-7d': 'the last 7 days', 'now-30d': 'the last 30 days' };
const DAY_MS = 86_400_000;

/** A time as a `datetime-local` input holds it: the browser's own zone, to the minute. */
const localInput = (ms) => {
  const d = new Date(ms);
  const pad = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
};

// "A window I choose" shows its from and to, first set to the last 7 days.
$('#impact-window')?.addEventListener('change', (event) => {
  const custom = event.target.value === 'custom';
  $('#impact-range').hidden = !custom;
  if (custom && !$('#impact-from').value) {
    $('#impact-from').value = localInput(Date.now() - 7 * DAY_MS);
    $('#impact-to').value = localInput(Date.now());
  }
});

/** The window to replay, as `POST /v1/replays` takes it, and in words; or a problem to show. */
function windowOf(range) {
  if (range !== 'custom') return { from: range, to: 'now', words: WINDOWS[range] ?? range };
  const from = Date.parse($('#impact-from').value);
  const to = Date.parse($('#impact-to').value);
  if (Number.isNaN(from) || Number.isNaN(to))
    return { problem: 'Choose when the window starts and when it ends.' };
  if (from >= to) return { problem: 'The window must start before it ends.' };
  return { from: new Date(from).toISOString(), to: new Date(to).toISOString(), words: 'the window chosen' };
}

const number = (n) => Number(n).toLocaleString('en-US');
const signed = (n) => (n > 0 ? `+${number(n)}` : n < 0 ? `−${number(-n)}` : '0');
const EMPTY = { sent: 0, suppressed: {}, filtered: {}, users_reached: 0 };

function rows(table, list, cells) {
  $(`${table} tbody`).replaceChildren(
    ...list.map((item) => {
      const tr = document.createElement('tr');
      for (const [text, className] of cells(item)) tr.append(el('td', text, className));
      return tr;
    }),
  );
}

/** A side of a flipped decision in words: "suppressed (min_interval)", "sent", "none". */
const side = (decision) =>
  decision === null
    ? 'none'
    : decision.reason
      ? `${decision.outcome} (${decision.reason})`
      : decision.outcome;

function show(report, messageId) {
  const mine = report.messages.find((m) => m.message_id === messageId) ?? {
    message_id: messageId,
    before: EMPTY,
    after: EMPTY,
  };
  for (const name of document.querySelectorAll('#impact .impact-id')) name.textContent = messageId;
  const set = (name, value) => ($(`[data-impact="${name}"]`).textContent = number(value));
  set('sent-before', mine.before.sent);
  set('sent-after', mine.after.sent);
  set('users-before', mine.before.users_reached);
  set('users-after', mine.after.users_reached);
  set('users-affected', report.users_affected);
  set('flips', report.flips.total);

  const reasons = [];
  for (const outcome of ['suppressed', 'filtered'])
    for (const reason of new Set([...Object.keys(mine.before[outcome]), ...Object.keys(mine.after[outcome])]))
      reasons.push({
        label: `${outcome}: ${reason}`,
        before: mine.before[outcome][reason] ?? 0,
        after: mine.after[outcome][reason] ?? 0,
      });
  rows('#impact-reasons', reasons, (r) => [
    [r.label],
    [number(r.before), 'n'],
    [number(r.after), 'n'],
    [signed(r.after - r.before), 'n'],
  ]);
  if (reasons.length === 0)
    rows('#impact-reasons', [null], () => [['none: every decision was a send, or there were none']]);

  rows('#impact-messages', report.messages, (m) => [
    [m.message_id === messageId ? `${m.message_id} (this draft)` : m.message_id],
    [number(m.before.sent), 'n'],
    [number(m.after.sent), 'n'],
    [signed(m.after.sent - m.before.sent), 'n'],
  ]);

  rows('#impact-flips', sendsFirst(report.flips.first), (f) => [
    [when(f.at)],
    [f.user_id],
    [f.message_id],
    [`${side(f.recorded)} → ${side(f.replayed)}`],
    [f.replayed?.explanation ?? f.recorded?.explanation ?? ''],
  ]);
  const shown = report.flips.first.length;
  $('#flips-title').textContent =
    report.flips.total === 0
      ? 'Flipped decisions: none'
      : `Flipped decisions, and why${report.flips.total > shown ? ` (${shown} of ${number(report.flips.total)})` : ''}`;
  $('#flip-kinds').replaceChildren(
    ...Object.entries(report.flips.kinds)
      .sort((a, b) => kindRank(a[0]) - kindRank(b[0]) || b[1] - a[1])
      .map(([kind, n]) => {
        const chip = el(
          'span',
          kind.replace('→', ' → '),
          `chip ${kind.endsWith('sent') ? 'gained' : kind.startsWith('sent') ? 'lost' : 'filtered'}`,
        );
        chip.append(' ', el('b', number(n)));
        return chip;
      }),
  );
}

/** Kinds of flip that gain a send first, then those that lose one, then the rest. */
const kindRank = (kind) => (kind.endsWith('sent') ? 0 : kind.startsWith('sent') ? 1 : 2);

/** Flips that change a send first (gained, then lost), then the rest, each in log order. */
const sendsFirst = (flips) => {
  const rank = (f) => (f.replayed?.outcome === 'sent' ? 0 : f.recorded?.outcome === 'sent' ? 1 : 2);
  return [...flips]
    .map((f, i) => ({ f, i }))
    .sort((a, b) => rank(a.f) - rank(b.f) || a.i - b.i)
    .map(({ f }) => f);
};

/** What was replayed: every entry, or the entries of the users the draft can affect. */
function replayedWords(report) {
  const { scope } = report;
  if (!scope)
    return `${number(report.entries)} recorded entries replayed with this draft, against what was decided`;
  const events = scope.events.join(' or ');
  return (
    `the ${number(report.entries)} entries of the ${number(scope.users)} users who had ${events} ` +
    `(of ${number(scope.window_entries)} entries in the window; no one else's decisions can change), ` +
    'replayed with this draft, against what was decided'
  );
}

/** The latest preview asked for: an earlier one still running stops showing its progress. */
let latest = 0;

/** Replays `message` (as if live) over `range` (`now-7d`: from then to now) and shows what it would have done there. */
export async function previewImpact(message, range) {
  const run = ++latest;
  const panel = $('#impact');
  panel.hidden = false;
  $('#impact-result').hidden = true;
  $('#impact-progress').hidden = false;
  $('#impact-bar').removeAttribute('value');
  $('#impact-progress-text').textContent = 'starting the replay…';
  panel.dataset.state = 'running';
  const window_ = windowOf(range);
  $('#impact-caption').textContent =
    window_.problem ?? `${message.id} over ${window_.words}, against what was decided`;
  panel.scrollIntoView({ block: 'start' });
  if (window_.problem) {
    $('#impact-progress-text').textContent = window_.problem;
    $('#impact-bar').value = 0;
    panel.dataset.state = 'failed';
    return;
  }
  // Replayed as live, from the start of the window: a draft is no candidate, and live_since would cut the window.
  const draft = { ...message, state: 'live' };
  delete draft.live_since;
  delete draft.version;
  try {
    const { replay_id: id } = await api('/v1/replays', {
      method: 'POST',
      // Only the users who had the draft's trigger event (or its stored versions') can have a
      // decision change: replaying them alone gives the same changes in a fraction of the time.
      body: { from: window_.from, to: window_.to, messages: [draft], scope: 'affected' },
    });
    panel.dataset.replayId = id;
    for (;;) {
      const replay = await api(`/v1/replays/${id}`);
      if (run !== latest) return;
      if (replay.status === 'failed') throw new Error(replay.error ?? 'the replay failed');
      if (replay.status === 'done') {
        $('#impact-progress').hidden = true;
        $('#impact-result').hidden = false;
        const { report } = replay;
        panel.dataset.from = String(report.from);
        panel.dataset.to = String(report.to);
        $('#impact-caption').textContent =
          `${message.id} over ${window_.words} (${when(report.from)} to ${when(report.to)}): ` +
          replayedWords(report);
        $('#impact-messages-title').textContent = report.scope
          ? "Every message's sends to these users"
          : "Every message's sends";
        show(report, message.id);
        panel.dataset.state = 'done';
        return;
      }
      if (replay.entries_total > 0) {
        $('#impact-bar').max = replay.entries_total;
        $('#impact-bar').value = replay.entries_done;
      }
      $('#impact-progress-text').textContent =
        `${number(replay.entries_done)} of ${number(replay.entries_total)} entries replayed`;
      await new Promise((resolve) => window.setTimeout(resolve, POLL_MS));
    }
  } catch (error) {
    if (run !== latest) return;
    $('#impact-progress-text').textContent = problemText(error, 'The impact preview');
    $('#impact-bar').value = 0;
    panel.dataset.state = 'failed';
  }
}
