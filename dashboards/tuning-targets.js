// The tuning panel's two forms, filled from the catalog (GET /v1/messages, GET /v1/caps): what a
// what-if replay changes (one message's limits, or the global caps) and which limit a sweep varies,
// read back as the bodies of POST /v1/replays and POST /v1/replays/sweep, with words for each.

import { duration, el, option } from './message-format.js';
import {
  capText,
  COUNT_PROBLEM,
  countText,
  DURATION_PROBLEM,
  frequencyText,
  parseCount,
  parseDuration,
  parseValues,
  suggestedValues,
} from './tuning-limits.js';

const $ = (selector) => document.querySelector(selector);
let messages = [];
let caps = [];

const LIMITS = {
  min_interval: { name: 'minimum interval', unit: 'time between two sends to a user', kind: 'duration' },
  max_sends: { name: 'maximum sends', unit: 'sends to a user, in all', kind: 'count' },
};

/** The words for a swept limit: its name in a sentence, its column, and its axis title with the unit. */
export function describeTarget(target) {
  if ('message' in target) {
    const limit = LIMITS[target.limit];
    const name = `${target.message}'s ${limit.name}`;
    return { name, column: limit.name, axis: `${name} (${limit.unit})`, kind: limit.kind };
  }
  const cap = caps[target.cap];
  const which = cap ? `the global cap of ${capText(cap)}` : `global cap ${target.cap}`;
  if (target.field === 'max')
    return {
      name: `the maximum of ${which}`,
      column: 'cap maximum',
      axis: `the cap's maximum (sends to a user${cap ? ` per ${duration(cap.per)}` : ' in its window'})`,
      kind: 'count',
    };
  return {
    name: `the window of ${which}`,
    column: 'cap window',
    axis: `the cap's window (the time in which a user gets at most ${cap ? `${cap.max}` : 'its maximum of'} sends)`,
    kind: 'duration',
  };
}

/** Fills both forms' choices from the catalog, keeping what was picked where it still exists. */
export function fillTargets(messageList, capList) {
  messages = [...messageList].sort((a, b) => (a.id < b.id ? -1 : 1));
  caps = capList;
  const whatIf = $('#whatif-target');
  const picked = whatIf.value;
  whatIf.replaceChildren(
    ...messages.map((m) => option(`${m.id} (${m.channel}, ${m.state})`, `message:${m.id}`)),
    option(
      caps.length === 0 ? 'the global caps (none now)' : `the global caps (${caps.map(capText).join('; ')})`,
      'caps',
    ),
  );
  const same = [...whatIf.options].some((o) => o.value === picked);
  if (same) whatIf.value = picked;
  // What was typed stays while the same thing is picked (the page reloads this with every range).
  showWhatIfFields({ keepTyped: same });

  const sweep = $('#sweep-target');
  const swept = sweep.value;
  const group = (label, options) => {
    const element = document.createElement('optgroup');
    element.label = label;
    element.append(...options);
    return element;
  };
  sweep.replaceChildren(
    ...messages.map((m) =>
      group(`${m.id} (${m.channel}, ${m.state})`, [
        option(
          `${m.id}: minimum interval, now ${m.frequency.min_interval > 0 ? duration(m.frequency.min_interval) : 'none'}`,
          `message:${m.id}:min_interval`,
        ),
        option(
          `${m.id}: maximum sends, now ${countText(m.frequency.max_sends)}`,
          `message:${m.id}:max_sends`,
        ),
      ]),
    ),
    ...caps.map((cap, i) =>
      group(`global cap of ${capText(cap)}`, [
        option(`cap of ${capText(cap)}: its maximum`, `cap:${i}:max`),
        option(`cap of ${capText(cap)}: its window`, `cap:${i}:per`),
      ]),
    ),
  );
  if ([...sweep.options].some((o) => o.value === swept)) sweep.value = swept;
  else suggestValues();
}

const messageOf = (value) => messages.find((m) => `message:${m.id}` === value);

/** The fields of what the what-if changes: a message's two limits, or the caps one per row. */
export function showWhatIfFields({ keepTyped = false } = {}) {
  const message = messageOf($('#whatif-target').value);
  $('#whatif-message-fields').hidden = message === undefined;
  $('#whatif-caps').hidden = message !== undefined;
  if (message) {
    if (!keepTyped) {
      $('#whatif-min-interval').value = duration(message.frequency.min_interval);
      $('#whatif-max-sends').value =
        message.frequency.max_sends === null ? '' : String(message.frequency.max_sends);
    }
    $('#whatif-now').textContent =
      `In force: ${frequencyText(message.frequency)} (version ${message.version}). ` +
      'The replay decides the whole window with this version and the limits above.';
  } else {
    if (!keepTyped)
      $('#whatif-cap-rows').replaceChildren(
        ...caps.map((cap, i) =>
          capRow({ max: String(cap.max), per: duration(cap.per), channel: cap.channel }, i),
        ),
      );
    $('#whatif-now').textContent =
      caps.length === 0
        ? 'No global cap is in force: add one to see what it would have held back.'
        : `In force: ${caps.map(capText).join('; ')}. The replay uses these caps instead.`;
  }
  if (!keepTyped) clearProblem('#whatif-error');
}

/** A cap's row, its fields as typed: "Cap 1: [2] email sends per [1d] [×]", each field named. */
function capRow(cap, i) {
  const row = el('div', undefined, 'cap-row');
  row.dataset.channel = cap.channel ?? '';
  const name = `Cap ${i + 1}`;
  const input = (value, label, className) => {
    const field = el('input', undefined, className);
    field.value = value;
    field.setAttribute('aria-label', `${name}: ${label}`);
    field.autocomplete = 'off';
    return field;
  };
  const remove = el('button', '×', 'quiet remove-cap');
  remove.type = 'button';
  remove.setAttribute('aria-label', `Remove cap ${i + 1}`);
  remove.addEventListener('click', () => {
    row.remove();
    renumberCaps();
  });
  row.append(
    el('span', `${name}:`, 'cap-name'),
    input(cap.max, 'sends at most', 'cap-max'),
    el('span', cap.channel ? `${cap.channel} sends per` : 'sends per'),
    input(cap.per, 'window', 'cap-per'),
    remove,
  );
  return row;
}

function renumberCaps() {
  const rows = [...document.querySelectorAll('#whatif-cap-rows .cap-row')];
  $('#whatif-cap-rows').replaceChildren(
    ...rows.map((row, i) =>
      capRow(
        {
          max: row.querySelector('.cap-max').value,
          per: row.querySelector('.cap-per').value,
          channel: row.dataset.channel || undefined,
        },
        i,
      ),
    ),
  );
}

export function addCap() {
  const rows = document.querySelectorAll('#whatif-cap-rows .cap-row');
  $('#whatif-cap-rows').append(capRow({ max: '1', per: '1d' }, rows.length));
  $('#whatif-cap-rows .cap-row:last-child .cap-max').focus();
}

function problem(at, field, text) {
  $(at).textContent = text;
  if (field) {
    field.setAttribute('aria-invalid', 'true');
    field.focus();
  }
  return undefined;
}

export function clearProblem(at) {
  $(at).textContent = '';
  for (const field of $(at).closest('form').querySelectorAll('[aria-invalid]'))
    field.removeAttribute('aria-invalid');
}

/** The what-if asked for: the body of POST /v1/replays and what it changes in words; undefined, with the problem shown, when a field is wrong. */
export function readWhatIf() {
  clearProblem('#whatif-error');
  const message = messageOf($('#whatif-target').value);
  if (message) return readMessageLimits(message);
  const list = [];
  const before = caps.map(capText).join('; ') || 'none';
  for (const [i, row] of [...document.querySelectorAll('#whatif-cap-rows .cap-row')].entries()) {
    const maxField = row.querySelector('.cap-max');
    const perField = row.querySelector('.cap-per');
    const max = parseCount(maxField.value);
    if (max === undefined || max === null)
      return problem(
        '#whatif-error',
        maxField,
        `Cap ${i + 1}: “${maxField.value}” ${COUNT_PROBLEM.replace(', or none', '')}`,
      );
    const per = parseDuration(perField.value);
    if (per === undefined || per === 0)
      return problem(
        '#whatif-error',
        perField,
        `Cap ${i + 1}'s window: “${perField.value}” ${DURATION_PROBLEM.replace(', or 0', '')}`,
      );
    list.push(row.dataset.channel ? { max, per, channel: row.dataset.channel } : { max, per });
  }
  const after = list.map(capText).join('; ') || 'none';
  return {
    body: { caps: list },
    label: before === after ? `global caps as they are (${after})` : `global caps ${before} → ${after}`,
  };
}

function readMessageLimits(message) {
  const intervalField = $('#whatif-min-interval');
  const mostField = $('#whatif-max-sends');
  const interval = intervalField.value.trim() === '' ? 0 : parseDuration(intervalField.value);
  if (interval === undefined)
    return problem(
      '#whatif-error',
      intervalField,
      `Minimum interval: “${intervalField.value}” ${DURATION_PROBLEM}`,
    );
  const most = parseCount(mostField.value);
  if (most === undefined)
    return problem('#whatif-error', mostField, `Maximum sends: “${mostField.value}” ${COUNT_PROBLEM}`);
  const { frequency } = message;
  const changes = [];
  if (interval !== frequency.min_interval)
    changes.push(`minimum interval ${duration(frequency.min_interval)} → ${duration(interval)}`);
  if (most !== frequency.max_sends)
    changes.push(`maximum sends ${countText(frequency.max_sends)} → ${countText(most)}`);
  return {
    body: {
      messages: [{ ...message, frequency: { ...frequency, min_interval: interval, max_sends: most } }],
    },
    label: `${message.id}: ${changes.length === 0 ? 'limits as they are' : changes.join(', ')}`,
  };
}

/** The target the sweep's choice names: `{message, limit}` or `{cap, field}`. */
function sweepTarget() {
  const [kind, name, limit] = $('#sweep-target').value.split(':');
  if (kind === 'message') return { message: name, limit };
  if (kind === 'cap') return { cap: Number(name), field: limit };
  return undefined;
}

/** Values around the limit in force, put in the values field when another limit is picked. */
export function suggestValues() {
  const target = sweepTarget();
  if (target === undefined) return;
  const current =
    'message' in target
      ? messages.find((m) => m.id === target.message)?.frequency[target.limit]
      : caps[target.cap]?.[target.field];
  $('#sweep-values').value = suggestedValues(describeTarget(target).kind, current ?? null);
  clearProblem('#sweep-error');
}

/** The sweep asked for: the body of POST /v1/replays/sweep and its words; undefined, with the problem shown, when a field is wrong. */
export function readSweep() {
  clearProblem('#sweep-error');
  const target = sweepTarget();
  if (target === undefined) return problem('#sweep-error', $('#sweep-target'), 'Pick a limit to sweep.');
  const words = describeTarget(target);
  const parsed = parseValues($('#sweep-values').value, {
    kind: words.kind,
    none: 'message' in target && target.limit === 'max_sends',
    zero: !('cap' in target && target.field === 'per'),
  });
  if (parsed.problem !== undefined)
    return problem('#sweep-error', $('#sweep-values'), `Values: ${parsed.problem}`);
  const shown = parsed.values.map((v) =>
    v === null ? 'none' : words.kind === 'duration' ? duration(v) : String(v),
  );
  // Said back in order, as they are swept and drawn.
  $('#sweep-values').value = shown.join(', ');
  return {
    body: { ...target, values: parsed.values },
    label: `${words.name} at ${shown.join(', ')}`,
    words,
  };
}
