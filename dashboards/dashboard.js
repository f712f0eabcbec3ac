// The dashboard (issue #5): the stats API drawn with Chart.js, a user's decisions, and tuning (issue
// #19): what-if replays and limit sweeps started from the page. A plain ES module served as it is
// (no build step); it asks the API with the key it is given.

import { axisTitle, COLORS, draw } from './charts.js';
import { number, plural } from './format.js';
import { showFunnel } from './funnel.js';
import { api, problemText, useKey } from './nudge-api.js';
import { drawSeries, seriesOver } from './series.js';
import { rows } from './tables.js';
import { DAY, HOUR, MINUTE, span, time } from './times.js';
import { initTuning, loadTuning } from './tuning.js';

/**
 * The channels whose sends a page shows, so that seen, clicked and dismissed mean something
 * (`IN_APP_CHANNELS` in pipeline/ports/inbox.ts; a test holds the two equal, as this page is served
 * as it is and cannot import it).
 */
const IN_APP_CHANNELS = ['banner', 'post', 'chat', 'survey', 'tour', 'carousel'];
/** The ranges the header offers besides dates: how far back from now, in words. */
const LAST = {
  '1h': [HOUR, 'the last hour'],
  '6h': [6 * HOUR, 'the last 6 hours'],
  '1d': [DAY, 'the last 24 hours'],
  '7d': [7 * DAY, 'the last 7 days'],
  '30d': [30 * DAY, 'the last 30 days'],
};
const $ = (selector) => document.querySelector(selector);

/** What the address asks for (`?key=…&from=…&to=…&last=…&message=…`), read before the key is taken out of it. */
const params = new URLSearchParams(location.search);

/** The key: from the address (`?key=`), else the last one used here. Never sent anywhere but this API. */
function initialKey() {
  const fromUrl = params.get('key');
  if (fromUrl) {
    sessionStorage.setItem('nudge-key', fromUrl);
    history.replaceState(null, '', location.pathname);
  }
  return sessionStorage.getItem('nudge-key') ?? '';
}

/** What the header says of the range shown. */
let rangeStatus = '';

function status(text, state) {
  $('#status').textContent = text;
  if (state) document.body.dataset.state = state;
}

/**
 * The range the header asks for, half-open: the last hour, 6 hours… up to now (to the next whole
 * minute, so that buckets fall on round times), or from one UTC day to the end of another.
 */
function range() {
  const last = LAST[$('#last').value];
  let from;
  let to;
  if (last) {
    to = Math.ceil(Date.now() / MINUTE) * MINUTE;
    from = to - last[0];
  } else {
    from = Date.parse(`${$('#from').value}T00:00:00Z`);
    to = Date.parse(`${$('#to').value}T00:00:00Z`) + DAY;
  }
  const message = $('#message').value.trim();
  const query = new URLSearchParams({ from: String(from), to: String(to) });
  if (message) query.set('message', message);
  return { from, to, query, words: last ? `${last[1]} (${span(from, to)})` : span(from, to) };
}

/** The dates stand for the range unless one of the last hours or days is picked. */
function showRangeChoice() {
  const dates = $('#last').value === '';
  for (const input of ['#from', '#to']) $(input).disabled = !dates;
}

async function load() {
  const { from, to, query, words } = range();
  status('loading…', 'loading');
  const [summary, series, messages, frequency] = await Promise.all([
    api(`/v1/stats/summary?${query}`),
    seriesOver(query, from, to),
    api(`/v1/stats/messages?${query}`),
    api(`/v1/stats/frequency?${query}`),
    loadTuning(),
  ]);
  $('#total-decisions').textContent = number(summary.decisions);
  $('#total-sent').textContent = number(summary.sent);
  $('#total-suppressed').textContent = number(summary.suppressed);
  $('#total-filtered').textContent = number(summary.filtered);
  $('#total-users').textContent = number(summary.users_reached);

  drawSeries(series);

  const reasons = Object.entries(summary.reasons).sort((a, b) => b[1] - a[1]);
  draw('#reasons-chart', {
    type: 'bar',
    data: {
      labels: reasons.map(([r]) => r),
      datasets: [{ label: 'decisions', data: reasons.map(([, n]) => n), backgroundColor: COLORS.suppressed }],
    },
    options: {
      indexAxis: 'y',
      plugins: { legend: { display: false } },
      scales: { x: { title: axisTitle('decisions not sent, for this reason'), ticks: { precision: 0 } } },
    },
  });
  rows('#reasons-table', reasons, ([reason, n]) => [[reason], [number(n), true]]);

  draw('#frequency-chart', {
    type: 'bar',
    data: {
      labels: frequency.histogram.map((h) => plural(h.sends, 'send')),
      datasets: [
        {
          label: '(user, day) pairs',
          data: frequency.histogram.map((h) => h.user_days),
          backgroundColor: COLORS.sent,
        },
      ],
    },
    options: {
      plugins: { legend: { display: false } },
      scales: {
        x: { title: axisTitle('sends a user got in one UTC day') },
        y: { beginAtZero: true, title: axisTitle('(user, day) pairs'), ticks: { precision: 0 } },
      },
    },
  });
  rows('#frequency-table', frequency.histogram, (h) => [
    [`${plural(h.sends, 'send')} a day`],
    [number(h.user_days), true],
  ]);

  showFunnel($('#messages-table tbody'), messages.messages, IN_APP_CHANNELS);
  rangeStatus = `${words}: ${plural(summary.decisions, 'decision')}`;
  status(rangeStatus, 'ready');
}

async function lookUpUser(event) {
  event.preventDefault();
  const user = $('#user-input').value.trim();
  const { decisions } = await api(`/v1/users/${encodeURIComponent(user)}/decisions?limit=100`);
  rows('#user-table', decisions, (d) => [
    [`${time(d.at, 'minute')} UTC`],
    [d.message_id],
    [d.reason ? `${d.outcome} (${d.reason})` : d.outcome],
    [d.explanation],
  ]);
  $('#user-table').hidden = false;
  status(`${plural(decisions.length, 'decision')} for ${user}`, 'user-ready');
}

function fail(error) {
  status(problemText(error, 'The dashboard'), 'error');
}

function show() {
  useKey($('#key').value);
  load().catch(fail);
}

const today = new Date();
$('#to').value = today.toISOString().slice(0, 10);
$('#from').value = new Date(today.getTime() - 6 * DAY).toISOString().slice(0, 10);
$('#key').value = initialKey();
for (const name of ['from', 'to', 'message']) {
  const given = params.get(name);
  if (given) $(`#${name}`).value = given;
}
if (params.get('last') in LAST) $('#last').value = params.get('last');
showRangeChoice();
initTuning(() => range());
$('#range-form').addEventListener('submit', (event) => {
  event.preventDefault();
  show();
});
// A range picked from the list is shown at once; dates wait for "Show", as a person types them.
$('#last').addEventListener('change', () => {
  showRangeChoice();
  if ($('#key').value) show();
});
$('#user-form').addEventListener('submit', (event) => lookUpUser(event).catch(fail));
if ($('#key').value) show();
else status('give a read key to start', 'ready');
