// The messages page's list: every message (GET /v1/messages) with its state, channel, trigger, its
// sends and why the rest were not sent over the last 7 days (GET /v1/stats/messages), when it last
// changed, and the buttons that launch, pause or stop it.

import { ago, el, when } from './message-format.js';
import { api } from './nudge-api.js';

const $ = (selector) => document.querySelector(selector);
const number = (n) => Number(n).toLocaleString('en-US');

/** What each state may become from the list, in the order the buttons are shown. */
const ACTIONS = {
  draft: ['launch'],
  live: ['pause', 'stop'],
  paused: ['launch', 'stop'],
  stopped: ['launch'],
};
const ACTION_NAMES = { launch: 'Launch', pause: 'Pause', stop: 'Stop' };

function button(text, className, onClick) {
  const b = el('button', text, className);
  b.type = 'button';
  b.addEventListener('click', onClick);
  return b;
}

/** Why the rest were not sent, as chips: "min_interval 12", "filtered: event_filter 30". */
function reasonsCell(stats) {
  const td = el('td', undefined, 'reasons');
  if (!stats) {
    td.append(el('span', 'no decisions', 'quiet-text'));
    return td;
  }
  const chips = [
    ...Object.entries(stats.suppressed).map(([r, n]) => [r, n, 'suppressed']),
    ...Object.entries(stats.filtered).map(([r, n]) => [`filtered: ${r}`, n, 'filtered']),
  ].sort((a, b) => b[1] - a[1]);
  if (chips.length === 0) td.append(el('span', 'none', 'quiet-text'));
  for (const [reason, n, kind] of chips) {
    const chip = el('span', reason, `chip ${kind}`);
    chip.append(' ', el('b', number(n)));
    td.append(chip);
  }
  return td;
}

/** Ops as a rule reads in a line: `metadata.duration_s > 120`. */
const OP_WORDS = {
  eq: '=',
  neq: '≠',
  gt: '>',
  gte: '≥',
  lt: '<',
  lte: '≤',
  contains: 'contains',
  not_contains: 'does not contain',
  starts_with: 'starts with',
  ends_with: 'ends with',
  in: 'in',
  not_in: 'not in',
  exists: 'is present',
  not_exists: 'is missing',
};

/** A condition in a line: leaves as `field op value`, groups in brackets joined by and / or. */
function conditionText(condition) {
  if ('all' in condition || 'any' in condition) {
    const [list, join] = 'all' in condition ? [condition.all, ' and '] : [condition.any, ' or '];
    return list.map((c) => ('field' in c ? conditionText(c) : `(${conditionText(c)})`)).join(join);
  }
  const value = condition.value === undefined ? '' : ` ${JSON.stringify(condition.value)}`;
  return `${condition.field} ${OP_WORDS[condition.op] ?? condition.op}${value}`;
}

/** The trigger in words: the event, and its rules in a line. */
function triggerCell(message) {
  const td = el('td', undefined, 'trigger');
  td.append(el('code', message.trigger.event));
  if (message.trigger.where)
    td.append(el('span', `where ${conditionText(message.trigger.where)}`, 'rules-text'));
  return td;
}

/**
 * The list in `#message-list`. `hooks.open(message)` opens the composer on a message,
 * `hooks.history(id)` its versions, `hooks.acted(message)` runs after a launch, pause or stop.
 */
export function messageList(hooks) {
  let messages = [];

  async function act(message, action) {
    try {
      const stored = await api(`/v1/messages/${encodeURIComponent(message.id)}/${action}`, {
        method: 'POST',
      });
      await load();
      hooks.acted(
        stored.message,
        `${message.id} is ${stored.message.state} (version ${stored.message.version})`,
      );
    } catch (error) {
      hooks.failed(error, `${ACTION_NAMES[action]} ${message.id}`);
    }
  }

  function row(message, stats, storedAt) {
    const tr = el('tr', undefined, 'message-row');
    tr.dataset.message = message.id;
    const name = el('td', undefined, 'name');
    name.append(el('strong', message.id));
    if (message.name) name.append(el('span', message.name, 'subtle'));
    const state = el('td');
    const chip = el('span', message.state, 'state-chip');
    chip.dataset.state = message.state;
    state.append(chip);
    const sent = el('td', stats ? number(stats.sent) : '0', 'n');
    sent.dataset.column = 'sent';
    const changed = el('td', storedAt ? ago(storedAt) : '–', 'changed');
    if (storedAt) changed.title = when(storedAt);
    changed.append(el('span', `version ${message.version}`, 'subtle'));
    const actions = el('td', undefined, 'row-actions');
    actions.append(
      button(message.state === 'draft' ? 'Edit' : 'Open', 'quiet', () => hooks.open(message)),
      button('History', 'quiet', () => hooks.history(message.id)),
      ...ACTIONS[message.state].map((action) =>
        button(ACTION_NAMES[action], action === 'stop' ? 'danger' : action, () => void act(message, action)),
      ),
    );
    tr.append(
      name,
      state,
      el('td', message.channel),
      triggerCell(message),
      sent,
      reasonsCell(stats),
      changed,
      actions,
    );
    return tr;
  }

  async function load() {
    const [list, stats] = await Promise.all([
      api('/v1/messages'),
      api('/v1/stats/messages?from=now-7d&to=now').catch(() => ({ messages: [] })),
    ]);
    messages = list.messages;
    const byId = new Map(stats.messages.map((m) => [m.message_id, m]));
    const order = messages.map((m, i) => ({ m, at: list.stored_at?.[i] }));
    // Most recently changed first: what a person just composed is at the top.
    order.sort((a, b) => (b.at ?? 0) - (a.at ?? 0) || a.m.id.localeCompare(b.m.id));
    $('#message-list tbody').replaceChildren(...order.map(({ m, at }) => row(m, byId.get(m.id), at)));
    $('#list-empty').hidden = messages.length > 0;
    return messages;
  }

  return { load, ids: () => messages.map((m) => m.id), find: (id) => messages.find((m) => m.id === id) };
}
