// The composer (issue #19): a draft created or edited through the API, its problems shown on the
// fields they name as the person types (POST /v1/messages/validate), launched or paused from here.

import {
  FIELD_IDS,
  fillMessage,
  frequencyWords,
  readMessage,
  setUpFields,
  showScheduleParts,
} from './composer-fields.js';
import { ago, option } from './message-format.js';
import { api, ApiProblem, problemText } from './nudge-api.js';
import { placeholderMenu } from './placeholder-menu.js';
import { ruleList } from './rule-list.js';

const $ = (selector) => document.querySelector(selector);
/** How long typing pauses before the definition is checked: one request per pause, not per key. */
const CHECK_AFTER_MS = 250;
const PAGE_CONTEXT = [
  { path: 'context.url', types: ['string'], group: 'Page context' },
  { path: 'context.time_on_page_s', types: ['number'], group: 'Page context' },
];

/**
 * The composer. `hooks.changed()` runs after a message was stored (the list reloads);
 * `hooks.impact(message)` previews a definition's impact; `hooks.preview` is the live preview.
 */
export function composer(hooks) {
  let editing = null;
  let events = [];
  const userAttributes = new Set();
  /** What the catalog says of each attribute (`GET /v1/catalog/attributes`): key → {types, users}. */
  const attributeFacts = new Map();
  let known = new Set();
  let touched = new Set();
  let showAll = false;
  let checks = 0;
  let timer;

  const eventName = () => $('#f-event').value.trim();
  const eventSeen = () => events.find((e) => e.name === eventName());
  const metadataFields = () =>
    (eventSeen()?.metadata_keys ?? []).slice(0, 20).map((k) => ({
      path: `metadata.${k.key}`,
      types: k.types,
      group: `Metadata of ${eventName()} (its usable keys)`,
    }));
  const rules = {
    where: ruleList($('#where'), {
      name: 'Where',
      fields: () => [...metadataFields(), ...PAGE_CONTEXT],
      onChange: () => edited('trigger.where'),
    }),
    audience: ruleList($('#audience'), {
      name: 'Audience',
      free: true,
      suggestions: 'user-attributes',
      fields: () =>
        attributeNames().map((a) => ({
          path: `user.${a}`,
          types: attributeFacts.get(a)?.types ?? [],
          group: 'User attributes',
        })),
      onChange: () => edited('audience'),
    }),
  };
  $('#where').dataset.path = 'trigger.where';
  $('#audience').dataset.path = 'audience';
  setUpFields();
  placeholderMenu($('#insert-placeholder'), $('#f-body'), placeholderGroups);

  function placeholderGroups() {
    const users = attributeNames();
    return [
      {
        label: eventName() ? `Metadata of ${eventName()}` : 'Metadata (pick a trigger event)',
        items: metadataFields().map((f) => ({ path: f.path, note: `${f.types.join(' or ')} · usable` })),
      },
      {
        label: 'User attributes',
        items: (users.length ? users : ['first_name', 'email']).map((a) => ({
          path: `user.${a}`,
          note: users.length ? attributeNote(a) : 'not seen yet',
        })),
      },
      { label: 'Page context', items: PAGE_CONTEXT.map((f) => ({ path: f.path, note: f.types[0] })) },
    ];
  }

  /** The attributes known, the most widespread first (the catalog's order), then those only a preview showed. */
  const attributeNames = () =>
    [...userAttributes].sort(
      (a, b) => (attributeFacts.get(b)?.users ?? -1) - (attributeFacts.get(a)?.users ?? -1),
    );

  /** "string · 1,204 users" from the catalog; "seen" for one only a previewed user had. */
  function attributeNote(name) {
    const facts = attributeFacts.get(name);
    if (!facts) return 'seen';
    const users = `${facts.users.toLocaleString('en-US')} ${facts.users === 1 ? 'user' : 'users'}`;
    return facts.types.length ? `${facts.types.join(' or ')} · ${users}` : users;
  }

  /** Attributes seen on users (the catalog's, the preview's users'): offered to the audience and the `{…}` menu. */
  function seeAttributes(names) {
    for (const name of names) userAttributes.add(name);
    $('#user-attributes').replaceChildren(
      ...attributeNames().map((a) => {
        const suggestion = option(`user.${a}`, `user.${a}`);
        if (attributeFacts.has(a)) suggestion.label = attributeNote(a);
        return suggestion;
      }),
    );
  }

  /** The attribute keys identify entries set (kept by the audit writer); without them, what previews show. */
  async function loadAttributes() {
    try {
      const { attributes } = await api('/v1/catalog/attributes');
      for (const { key, types, users } of attributes) attributeFacts.set(key, { types, users });
      seeAttributes(attributes.map((a) => a.key));
    } catch {
      // The composer works without them: the audience is typed, and previews add the attributes they show.
    }
  }

  function showEventFacts() {
    const seen = eventSeen();
    const keys = seen?.metadata_keys.map((k) => k.key) ?? [];
    $('#event-facts').textContent = !eventName()
      ? 'Type an event name, or pick one the audit has seen.'
      : seen
        ? `${seen.entries.toLocaleString('en-US')} entries, last seen ${ago(seen.last_seen)}` +
          (keys.length ? `; metadata: ${keys.join(', ')}` : '; no metadata')
        : 'Not seen yet: no entry of this name in the audit.';
  }

  async function loadCatalog() {
    const attributes = loadAttributes();
    try {
      ({ events } = await api('/v1/catalog/events'));
    } catch {
      events = [];
    }
    await attributes;
    $('#event-names').replaceChildren(
      ...events.map((e) =>
        option(`${e.entries.toLocaleString('en-US')} entries, last seen ${ago(e.last_seen)}`, e.name),
      ),
    );
    showEventFacts();
    rules.where.refresh();
  }

  // Problems, each "path: what is wrong", placed on the field the path names.
  function clearProblems() {
    for (const id of Object.values(FIELD_IDS)) {
      $(`#e-${id}`).textContent = '';
      $(`#f-${id}`).removeAttribute('aria-invalid');
    }
    rules.where.clearErrors();
    rules.audience.clearErrors();
    $('#composer-problems').textContent = '';
  }

  const isTouched = (path) =>
    showAll || [...touched].some((t) => path === t || path.startsWith(`${t}.`) || path.startsWith(`${t}[`));

  function place(problems) {
    clearProblems();
    const general = [];
    for (const problem of problems) {
      const split = problem.indexOf(': ');
      const path = split < 0 ? '(root)' : problem.slice(0, split);
      const message = split < 0 ? problem : problem.slice(split + 2);
      if (path !== '(root)' && !isTouched(path)) continue;
      const field = FIELD_IDS[path] ?? (path.startsWith('schedule.days') ? 'days' : undefined);
      if (field) {
        const error = $(`#e-${field}`);
        error.textContent = error.textContent ? `${error.textContent}; ${message}` : message;
        $(`#f-${field}`).setAttribute('aria-invalid', 'true');
      } else if (path.startsWith('trigger.where')) rules.where.place(path.slice(14), message);
      else if (path.startsWith('audience')) rules.audience.place(path.slice(9), message);
      else general.push(problem);
    }
    $('#composer-problems').textContent = general.join('; ');
    return problems.length === 0;
  }

  function definition() {
    const { message, local } = readMessage(editing, rules);
    if (!editing && message.id && known.has(message.id))
      local.push(`id: a message ${message.id} exists: open it from the list to change it`);
    return { message, local };
  }

  /** Asks the API what is wrong with the definition as it stands; the last answer asked for wins. */
  async function check() {
    const asked = ++checks;
    const { message, local } = definition();
    let problems = [];
    try {
      await api('/v1/messages/validate', { method: 'POST', body: message });
    } catch (error) {
      if (!(error instanceof ApiProblem) || error.code !== 'invalid_message') {
        if (asked === checks)
          $('#composer-problems').textContent = problemText(error, 'checking the message');
        return false;
      }
      problems = error.details;
    }
    if (asked !== checks) return false;
    return place([...local, ...problems]);
  }

  function edited(path) {
    if (path) touched.add(path);
    showScheduleParts();
    $('#frequency-words').textContent = frequencyWords();
    window.clearTimeout(timer);
    timer = window.setTimeout(() => void check(), CHECK_AFTER_MS);
    hooks.preview.templateChanged(definition().message);
  }

  const form = $('#composer-form');
  const onInput = (event) => {
    const path = event.target.closest('[data-path]')?.dataset.path;
    if (path === 'trigger.where' || path === 'audience') return;
    if (path === 'trigger.event') {
      showEventFacts();
      rules.where.refresh();
      hooks.preview.eventChanged(eventName());
    }
    edited(path);
  };
  form.addEventListener('input', onInput);
  form.addEventListener('change', onInput);

  function say(text) {
    $('#composer-status').textContent = text;
  }

  function showState() {
    const state = editing?.state;
    $('#composer-title').textContent = editing ? `${editing.id}, version ${editing.version}` : 'New message';
    $('#composer-state').textContent = state ?? 'not saved';
    $('#composer-state').dataset.state = state ?? 'new';
    $('#f-id').readOnly = editing !== null;
    $('#save-draft').disabled = editing !== null && state !== 'draft';
    $('#launch').disabled = state === 'live';
    $('#pause').disabled = state !== 'live';
    $('#composer').dataset.state = state ?? 'new';
  }

  /** Stores the definition (a new message, or a new version of the draft): the stored version, or undefined. */
  async function save() {
    showAll = true;
    const { message, local } = definition();
    if (!(await check()) || local.length > 0) {
      say('Not saved: fix what is marked first.');
      return undefined;
    }
    try {
      const stored = editing
        ? await api(`/v1/messages/${encodeURIComponent(editing.id)}`, { method: 'PUT', body: message })
        : await api('/v1/messages', { method: 'POST', body: message });
      editing = stored.message;
      showState();
      say(
        stored.change === 'unchanged'
          ? `No change: ${editing.id} is still version ${editing.version}.`
          : `Saved ${editing.id} as a draft, version ${editing.version}.`,
      );
      await hooks.changed();
      return editing;
    } catch (error) {
      if (error instanceof ApiProblem && error.code === 'invalid_message') place(error.details);
      else if (error instanceof ApiProblem && error.code === 'conflict') place([`id: ${error.message}`]);
      say(problemText(error, 'Saving'));
      return undefined;
    }
  }

  async function transition(action) {
    if (action === 'launch' && (editing === null || editing.state === 'draft') && !(await save())) return;
    try {
      const { message } = await api(`/v1/messages/${encodeURIComponent(editing.id)}/${action}`, {
        method: 'POST',
      });
      editing = message;
      showState();
      say(
        action === 'launch'
          ? `${message.id} is live (version ${message.version}): entries from now on trigger it.`
          : `${message.id} is ${message.state} (version ${message.version}): no more sends.`,
      );
      await hooks.changed();
    } catch (error) {
      say(problemText(error, action === 'launch' ? 'Launching' : 'Pausing'));
    }
  }

  async function previewImpact() {
    showAll = true;
    const { message, local } = definition();
    if (!(await check()) || local.length > 0) {
      say('Fix what is marked first: the impact is replayed with a valid definition.');
      return;
    }
    say('');
    await hooks.impact(message, $('#impact-window').value);
  }

  $('#save-draft').addEventListener('click', () => void save());
  $('#launch').addEventListener('click', () => void transition('launch'));
  $('#pause').addEventListener('click', () => void transition('pause'));
  $('#preview-impact').addEventListener('click', () => void previewImpact());

  return {
    /** Opens the composer on a stored message, or on a new one; `ids` are the messages that exist. */
    async open(message, ids) {
      editing = message ?? null;
      known = new Set(ids);
      touched = new Set();
      showAll = false;
      for (const rule of message?.audience
        ? JSON.stringify(message.audience).matchAll(/"user\.([^"]+)"/g)
        : [])
        seeAttributes([rule[1]]);
      fillMessage(message, rules);
      clearProblems();
      showState();
      say(
        editing && editing.state !== 'draft'
          ? `${editing.id} is ${editing.state}: change the fields to preview the impact of a change; only drafts are saved here.`
          : '',
      );
      $('#frequency-words').textContent = frequencyWords();
      $('#composer').hidden = false;
      await loadCatalog();
      hooks.preview.eventChanged(eventName());
      hooks.preview.templateChanged(definition().message);
      $('#composer').scrollIntoView({ block: 'start' });
      (editing ? $('#f-event') : $('#f-id')).focus();
    },
    close() {
      $('#composer').hidden = true;
    },
    /** The definition as the fields say it (the test send sends it). */
    definition: () => definition().message,
    seeAttributes,
    /** A message of the list changed elsewhere (launched from the list): the composer shows its state. */
    refreshed(message) {
      if (editing && message && message.id === editing.id) {
        editing = message;
        showState();
      }
    },
  };
}
