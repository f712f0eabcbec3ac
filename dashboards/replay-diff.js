// A what-if replay's report against what was recorded (README "Replaying the recorded log"): sends
// and users reached before and after, the users affected, each message's sends and suppressions,
// why decisions were not sent by reason, and the decisions whose outcome flipped, with why.

import { el, when } from './message-format.js';
import { number, plural, sum } from './format.js';
import { rows } from './tables.js';

const $ = (selector) => document.querySelector(selector);
const signed = (n) => (n > 0 ? `+${number(n)}` : n < 0 ? `−${number(-n)}` : '0');
const changeClass = (n) => (n > 0 ? 'n up' : n < 0 ? 'n down' : 'n');

/** A side of a flipped decision in words: "suppressed (min_interval)", "sent", "none". */
const side = (decision) =>
  decision === null
    ? 'none'
    : decision.reason
      ? `${decision.outcome} (${decision.reason})`
      : decision.outcome;

/** Kinds of flip that gain a send first, then those that lose one, then the rest. */
const kindRank = (kind) => (kind.endsWith('sent') ? 0 : kind.startsWith('sent') ? 1 : 2);
const flipRank = (f) => (f.replayed?.outcome === 'sent' ? 0 : f.recorded?.outcome === 'sent' ? 1 : 2);

/** Every message's suppressions and filters summed by reason, before and after: `[{label, before, after}]`. */
function byReason(messages) {
  const totals = new Map();
  for (const m of messages)
    for (const outcome of ['suppressed', 'filtered'])
      for (const [at, counts] of [
        ['before', m.before[outcome]],
        ['after', m.after[outcome]],
      ])
        for (const [reason, n] of Object.entries(counts)) {
          const label = `${outcome}: ${reason}`;
          const row = totals.get(label) ?? { label, before: 0, after: 0 };
          row[at] += n;
          totals.set(label, row);
        }
  return [...totals.values()].sort((a, b) => b.before + b.after - (a.before + a.after));
}

function cards(report) {
  const total = (side) => report.messages.reduce((n, m) => n + m[side].sent, 0);
  const set = (name, value) => ($(`[data-diff="${name}"]`).textContent = number(value));
  const before = total('before');
  const after = total('after');
  set('sent-before', before);
  set('sent-after', after);
  $('[data-diff="sent-change"]').textContent = signed(after - before);
  set('users-before', report.users_reached.before);
  set('users-after', report.users_reached.after);
  $('[data-diff="users-change"]').textContent = signed(
    report.users_reached.after - report.users_reached.before,
  );
  set('users-affected', report.users_affected);
  set('flips', report.flips.total);
}

function flips(report) {
  const shown = report.flips.first.length;
  $('#diff-flips-title').textContent =
    report.flips.total === 0
      ? 'Flipped decisions: none'
      : `Flipped decisions, and why${report.flips.total > shown ? ` (the first ${shown} of ${number(report.flips.total)})` : ''}`;
  $('#diff-flip-kinds').replaceChildren(
    ...Object.entries(report.flips.kinds)
      .sort((a, b) => kindRank(a[0]) - kindRank(b[0]) || b[1] - a[1])
      .map(([kind, n]) => {
        const rank = kindRank(kind);
        const chip = el('span', kind.replace('→', ' → '), `chip ${['gained', 'lost', 'filtered'][rank]}`);
        chip.append(' ', el('b', number(n)));
        return chip;
      }),
  );
  const ordered = report.flips.first
    .map((f, i) => ({ f, i }))
    .sort((a, b) => flipRank(a.f) - flipRank(b.f) || a.i - b.i)
    .map(({ f }) => f);
  $('#diff-flips-table tbody').replaceChildren(
    ...ordered.map((f) => {
      const tr = document.createElement('tr');
      const why = el('td', f.replayed?.explanation ?? 'no decision for this message when replayed', 'why');
      if (f.recorded) why.append(el('span', `recorded: ${f.recorded.explanation}`, 'subtle'));
      tr.append(
        el('td', when(f.at)),
        el('td', f.user_id),
        el('td', f.message_id),
        el(
          'td',
          `${side(f.recorded)} → ${side(f.replayed)}`,
          `flip ${['gained', 'lost', 'other'][flipRank(f)]}`,
        ),
        why,
      );
      return tr;
    }),
  );
  $('#diff-flips').hidden = shown === 0;
}

/** Shows a replay's report in the tuning panel's diff view. */
export function showDiff(report) {
  $('#diff-summary').textContent = report.identical
    ? `Every one of the ${plural(report.decisions, 'decision')} came out as recorded: these limits change nothing here.`
    : `${plural(report.flips.total, 'decision')} changed outcome (${plural(report.differences, 'decision')} differ in any way), ` +
      `for ${plural(report.users_affected, 'user')}.`;
  cards(report);
  rows('#diff-messages', report.messages, (m) => [
    [m.message_id],
    [number(m.before.sent), true],
    [number(m.after.sent), true],
    [signed(m.after.sent - m.before.sent), changeClass(m.after.sent - m.before.sent)],
    [number(sum(m.before.suppressed)), true],
    [number(sum(m.after.suppressed)), true],
    [number(m.before.users_reached), true],
    [number(m.after.users_reached), true],
  ]);
  const reasons = byReason(report.messages);
  rows('#diff-reasons', reasons, (r) => [
    [r.label],
    [number(r.before), true],
    [number(r.after), true],
    [signed(r.after - r.before), true],
  ]);
  if (reasons.length === 0) rows('#diff-reasons', [null], () => [['none: every decision was a send']]);
  flips(report);
}
