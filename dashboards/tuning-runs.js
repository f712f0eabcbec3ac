// The runs this tab started (or opened), newest first, kept in its session storage: each with its
// id, what it changes in words and its window, so a person opens one again with a click.

import { el } from './message-format.js';
import { clock, span } from './times.js';

const KEY = 'nudge-runs';
const KEPT = 12;
const $ = (selector) => document.querySelector(selector);

/** The runs kept: `{id, kind, label, from, to, started_at, status, words?}`, newest first. */
export function recall() {
  try {
    const runs = JSON.parse(sessionStorage.getItem(KEY) ?? '[]');
    return Array.isArray(runs) ? runs : [];
  } catch {
    return [];
  }
}

const keep = (runs) => sessionStorage.setItem(KEY, JSON.stringify(runs.slice(0, KEPT)));

/** Keeps a run first in the list (a run kept already moves up, with what is known of it merged). */
export function remember(run) {
  const earlier = recall().find((r) => r.id === run.id);
  keep([{ ...earlier, ...run }, ...recall().filter((r) => r.id !== run.id)]);
}

/** Notes what is now known of a run kept (its status); a run not kept is left alone. */
export function note(id, patch) {
  keep(recall().map((r) => (r.id === id ? { ...r, ...patch } : r)));
}

export const runOf = (id) => recall().find((r) => r.id === id);

const STATUS = { running: 'running…', done: 'done', failed: 'failed' };

/** The list of runs, `current` marked, each with an Open button calling `open(id)`. */
export function showRuns(current, open) {
  const runs = recall();
  $('#runs-empty').hidden = runs.length > 0;
  $('#runs-table').hidden = runs.length === 0;
  $('#runs-table tbody').replaceChildren(
    ...runs.map((run) => {
      const tr = document.createElement('tr');
      if (run.id === current) tr.setAttribute('aria-current', 'true');
      tr.dataset.replayId = run.id;
      const what = el('td');
      what.append(
        el('span', run.kind, `kind-chip ${run.kind}`),
        ' ',
        el('span', run.label, 'run-label'),
        el(
          'span',
          `started ${clock(run.started_at)} UTC · over ${span(run.from, run.to)} · ${run.id}`,
          'subtle',
        ),
      );
      const button = el('button', run.id === current ? 'Shown' : 'Open', 'quiet');
      button.type = 'button';
      button.disabled = run.id === current;
      button.setAttribute(
        'aria-label',
        `Open the ${run.kind} ${run.label}, started at ${clock(run.started_at)}`,
      );
      button.addEventListener('click', () => open(run.id));
      const action = el('td', undefined, 'run-action');
      action.append(button);
      tr.append(
        what,
        el('td', STATUS[run.status] ?? run.status ?? '', `run-status ${run.status ?? ''}`),
        action,
      );
      return tr;
    }),
  );
}
