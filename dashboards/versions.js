// A message's version history (GET /v1/messages/:id/versions) and the difference between two chosen
// versions, as a line diff of their JSON definitions.

import { definitionText, lineDiff } from './line-diff.js';
import { ago, duration, el, option, when } from './message-format.js';
import { api } from './nudge-api.js';

const $ = (selector) => document.querySelector(selector);
const MARKS = { same: ' ', removed: '−', added: '+' };
/** What a screen reader says before a changed line (the colour and the mark are for the eye). */
const SPOKEN = { removed: 'removed: ', added: 'added: ' };

export function versionHistory() {
  let versions = [];

  function showDiff() {
    const from = versions.find((v) => v.version === Number($('#diff-from').value));
    const to = versions.find((v) => v.version === Number($('#diff-to').value));
    if (!from || !to) return;
    const lines = lineDiff(definitionText(from, duration), definitionText(to, duration));
    const added = lines.filter((l) => l.kind === 'added').length;
    const removed = lines.filter((l) => l.kind === 'removed').length;
    $('#diff-summary').textContent =
      added + removed === 0
        ? `Versions ${from.version} and ${to.version} are the same definition.`
        : `From version ${from.version} to ${to.version}: ${removed} lines removed, ${added} added.`;
    $('#diff').replaceChildren(
      ...lines.map((line) => {
        const span = el('span', undefined, `line ${line.kind}`);
        if (SPOKEN[line.kind]) span.append(el('span', SPOKEN[line.kind], 'visually-hidden'));
        span.append(el('span', MARKS[line.kind], 'mark'), `${line.text}\n`);
        return span;
      }),
    );
  }

  $('#diff-from').addEventListener('change', showDiff);
  $('#diff-to').addEventListener('change', showDiff);

  return {
    async show(id) {
      const answer = await api(`/v1/messages/${encodeURIComponent(id)}/versions`);
      versions = answer.versions;
      const storedAt = answer.stored_at ?? [];
      $('#history-title').textContent = `Versions of ${id}`;
      $('#version-list tbody').replaceChildren(
        ...versions.map((v, i) => {
          const tr = el('tr');
          const state = el('td');
          const chip = el('span', v.state, 'state-chip');
          chip.dataset.state = v.state;
          state.append(chip);
          const stored = storedAt[i] === undefined ? '–' : `${when(storedAt[i])} (${ago(storedAt[i])})`;
          tr.append(
            el('td', v.version, 'n'),
            state,
            el('td', stored),
            el('td', v.live_since ? when(v.live_since) : '–'),
          );
          return tr;
        }),
      );
      const choices = () => versions.map((v) => option(`${v.version} (${v.state})`, String(v.version)));
      $('#diff-from').replaceChildren(...choices());
      $('#diff-to').replaceChildren(...choices());
      const last = versions[versions.length - 1];
      $('#diff-from').value = String((versions[versions.length - 2] ?? last).version);
      $('#diff-to').value = String(last.version);
      showDiff();
      $('#history').hidden = false;
      $('#history').scrollIntoView({ block: 'start' });
    },
  };
}
