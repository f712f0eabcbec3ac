// The composer's live preview (the template rendered by the core with one of the trigger event's
// last ten entries, POST /v1/messages/preview) and its test send to one user (POST /v1/messages/test-send).

import { ago, option } from './message-format.js';
import { api, ApiProblem, problemText } from './nudge-api.js';

const $ = (selector) => document.querySelector(selector);
const RENDER_AFTER_MS = 200;
const RECENT = 10;

/** A recent entry in a line: who, when, and its first values ("u3 · 2 min ago · file_name=a.pdf, …"). */
function describe(entry) {
  const values = Object.entries(entry.metadata)
    .slice(0, 3)
    .map(([k, v]) => `${k}=${String(v)}`)
    .join(', ');
  return [entry.user_id, ago(entry.received_at), values].filter(Boolean).join(' · ');
}

/**
 * The preview beside the composer. `definition()` is the definition as the fields say it (the
 * test send sends it); `seeAttributes(names)` is told the attributes of each previewed user.
 */
export function preview({ definition, seeAttributes }) {
  let event;
  let entries = [];
  let template;
  let renders = 0;
  let timer;
  let eventTimer;

  const chosen = () => entries[Number($('#recent-event').value)];

  async function render() {
    const asked = ++renders;
    const entry = chosen();
    if (template === undefined) return;
    const body = { template, event };
    if (entry)
      Object.assign(body, { metadata: entry.metadata, context: entry.context, user_id: entry.user_id });
    try {
      const rendered = await api('/v1/messages/preview', { method: 'POST', body });
      if (asked !== renders) return;
      $('.rendered-subject').textContent = rendered.subject ?? '';
      $('.rendered-subject').hidden = rendered.subject === null;
      $('.rendered-body').textContent = rendered.body || 'the body renders empty';
      $('.rendered-body').classList.toggle('empty', !rendered.body);
      $('#rendered').classList.remove('stale');
      seeAttributes(Object.keys(rendered.user ?? {}));
    } catch (error) {
      if (asked !== renders) return;
      // The body's own problem is already shown on the Body field; the last good render stays, greyed.
      $('#rendered').classList.add('stale');
      const aboutBody =
        error instanceof ApiProblem &&
        error.code === 'invalid_request' &&
        error.details.every((d) => String(d).startsWith('template.'));
      if (!aboutBody) $('#preview-note').textContent = problemText(error, 'Rendering the preview');
    }
  }

  function later() {
    window.clearTimeout(timer);
    timer = window.setTimeout(() => void render(), RENDER_AFTER_MS);
  }

  async function loadRecent(name) {
    entries = [];
    if (name) {
      try {
        ({ entries } = await api(`/v1/catalog/events/${encodeURIComponent(name)}/recent?limit=${RECENT}`));
      } catch (error) {
        $('#preview-note').textContent = problemText(error, 'Reading recent events');
      }
    }
    if (name !== event) return;
    $('#recent-event').replaceChildren(...entries.map((entry, i) => option(describe(entry), String(i))));
    $('#recent-choice').hidden = entries.length === 0;
    $('#preview-note').textContent = !name
      ? 'Pick a trigger event to render the body with one of its recent entries.'
      : entries.length === 0
        ? `No ${name} recorded yet: rendered without metadata or user.`
        : `One of the last ${entries.length} ${name} entries, with its user's attributes as the matcher has them.`;
    later();
  }

  $('#recent-event').addEventListener('change', later);
  $('#test-send-form').addEventListener('submit', (submitted) => {
    submitted.preventDefault();
    void testSend();
  });

  async function testSend() {
    const user = $('#test-user').value.trim();
    const result = $('#test-send-result');
    if (!user) {
      result.textContent = 'Give the id of the user to send the test to.';
      return;
    }
    const entry = chosen();
    const body = { message: definition(), user_id: user };
    if (entry) Object.assign(body, { metadata: entry.metadata, context: entry.context });
    result.textContent = 'Sending…';
    try {
      const sent = await api('/v1/messages/test-send', { method: 'POST', body });
      result.textContent = `Sent to ${sent.user_id} by ${sent.channel}: ${sent.subject ? `“${sent.subject}” ` : ''}${sent.body}`;
    } catch (error) {
      result.textContent = problemText(error, 'The test send');
    }
  }

  return {
    /** The trigger event typed: its recent entries are read once typing pauses. */
    eventChanged(name) {
      if (name === event) return;
      event = name;
      window.clearTimeout(eventTimer);
      eventTimer = window.setTimeout(() => void loadRecent(name), RENDER_AFTER_MS);
    },
    templateChanged(message) {
      template = message.template;
      later();
    },
  };
}
