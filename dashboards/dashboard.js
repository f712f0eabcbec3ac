// The dashboard (issue #5): the stats API drawn with Chart.js, a user's decisions, a replay's diff.
// A plain ES module served as it is (no build step); it asks the API with the key it is given.

const DAY = 86_400_000;
const COLORS = { sent: '#2f7d4f', suppressed: '#c2672d', filtered: '#7a7f87' };
const charts = new Map();
const $ = (selector) => document.querySelector(selector);
const number = (n) => Number(n).toLocaleString('en-US');

/** What the address asks for (`?key=…&from=…&to=…&message=…`), read before the key is taken out of it. */
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

async function api(path) {
  const response = await fetch(path, { headers: { authorization: `Bearer ${$('#key').value}` } });
  const body = await response.json();
  if (!response.ok) throw new Error(`${response.status}: ${body.error?.message ?? 'error'}`);
  return body;
}

function status(text, state) {
  $('#status').textContent = text;
  if (state) document.body.dataset.state = state;
}

function range() {
  const from = Date.parse(`${$('#from').value}T00:00:00Z`);
  const to = Date.parse(`${$('#to').value}T00:00:00Z`) + DAY;
  const message = $('#message').value.trim();
  const query = new URLSearchParams({ from: String(from), to: String(to) });
  if (message) query.set('message', message);
  return { from, to, query };
}

function draw(id, config) {
  charts.get(id)?.destroy();
  charts.set(
    id,
    new Chart($(id), { ...config, options: { animation: false, responsive: true, ...config.options } }),
  );
}

function rows(selector, list, cells) {
  const body = $(`${selector} tbody`);
  body.replaceChildren(
    ...list.map((item) => {
      const tr = document.createElement('tr');
      for (const [value, numeric] of cells(item)) {
        const td = document.createElement('td');
        td.textContent = value;
        if (numeric) td.className = 'n';
        tr.append(td);
      }
      return tr;
    }),
  );
}

const sum = (counts) => Object.values(counts).reduce((a, b) => a + b, 0);
const time = (ms, bucket) =>
  new Date(ms)
    .toISOString()
    .slice(0, bucket === 'day' ? 10 : 16)
    .replace('T', ' ');

async function load() {
  const { from, to, query } = range();
  const bucket = to - from <= 3 * DAY ? 'hour' : 'day';
  status('loading…', 'loading');
  const [summary, series, messages, frequency] = await Promise.all([
    api(`/v1/stats/summary?${query}`),
    api(`/v1/stats/series?${query}&bucket=${bucket}&by=outcome`),
    api(`/v1/stats/messages?${query}`),
    api(`/v1/stats/frequency?${query}`),
  ]);
  $('#total-decisions').textContent = number(summary.decisions);
  $('#total-sent').textContent = number(summary.sent);
  $('#total-suppressed').textContent = number(summary.suppressed);
  $('#total-filtered').textContent = number(summary.filtered);
  $('#total-users').textContent = number(summary.users_reached);

  const buckets = [...new Set(series.points.map((p) => p.at))].sort((a, b) => a - b);
  const line = (outcome) => ({
    label: outcome,
    data: buckets.map((at) => series.points.find((p) => p.at === at && p.key === outcome)?.decisions ?? 0),
    borderColor: COLORS[outcome],
    backgroundColor: COLORS[outcome],
    tension: 0.2,
  });
  draw('#series-chart', {
    type: 'line',
    data: {
      labels: buckets.map((at) => time(at, bucket)),
      datasets: ['sent', 'suppressed', 'filtered'].map(line),
    },
  });

  const reasons = Object.entries(summary.reasons).sort((a, b) => b[1] - a[1]);
  draw('#reasons-chart', {
    type: 'bar',
    data: {
      labels: reasons.map(([r]) => r),
      datasets: [{ label: 'decisions', data: reasons.map(([, n]) => n), backgroundColor: COLORS.suppressed }],
    },
    options: { indexAxis: 'y', plugins: { legend: { display: false } } },
  });
  rows('#reasons-table', reasons, ([reason, n]) => [[reason], [number(n), true]]);

  draw('#frequency-chart', {
    type: 'bar',
    data: {
      labels: frequency.histogram.map((h) => `${h.sends} a day`),
      datasets: [
        {
          label: '(user, day) pairs',
          data: frequency.histogram.map((h) => h.user_days),
          backgroundColor: COLORS.sent,
        },
      ],
    },
    options: { plugins: { legend: { display: false } } },
  });
  rows('#frequency-table', frequency.histogram, (h) => [
    [`${h.sends} sends a day`],
    [number(h.user_days), true],
  ]);

  rows('#messages-table', messages.messages, (m) => [
    [m.message_id],
    [m.channel],
    [number(m.triggered), true],
    [number(m.passed_filters), true],
    [number(m.sent), true],
    [number(sum(m.suppressed)), true],
    [number(sum(m.filtered)), true],
    [number(m.users_reached), true],
  ]);
  status(`${time(from, 'day')} to ${time(to - DAY, 'day')}: ${number(summary.decisions)} decisions`, 'ready');
}

async function lookUpUser(event) {
  event.preventDefault();
  const user = $('#user-input').value.trim();
  const { decisions } = await api(`/v1/users/${encodeURIComponent(user)}/decisions?limit=100`);
  rows('#user-table', decisions, (d) => [
    [time(d.at, 'minute')],
    [d.message_id],
    [d.reason ? `${d.outcome} (${d.reason})` : d.outcome],
    [d.explanation],
  ]);
  status(`${decisions.length} decisions for ${user}`, 'user-ready');
}

async function showReplay(event) {
  event.preventDefault();
  const replay = await api(`/v1/replays/${encodeURIComponent($('#replay-input').value.trim())}`);
  if (replay.status !== 'done') {
    $('#replay-summary').textContent =
      `${replay.status}: ${number(replay.entries_done)} of ${number(replay.entries_total)} entries${replay.error ? ` (${replay.error})` : ''}`;
    status(`replay ${replay.status}`, 'replay-ready');
    return;
  }
  const report = replay.report;
  if (replay.kind === 'sweep') {
    $('#replay-summary').textContent =
      `sweep of ${JSON.stringify(report.target)}: recorded ${number(report.recorded.sent)} sends`;
    $('#sweep-chart').hidden = false;
    draw('#sweep-chart', {
      type: 'line',
      data: {
        labels: report.points.map((p) => (p.value === null ? 'none' : String(p.value))),
        datasets: [
          {
            label: 'sends',
            data: report.points.map((p) => p.sent),
            borderColor: COLORS.sent,
            backgroundColor: COLORS.sent,
          },
          {
            label: 'users reached',
            data: report.points.map((p) => p.users_reached),
            borderColor: '#3a6ea5',
            backgroundColor: '#3a6ea5',
          },
        ],
      },
    });
    rows('#replay-table', report.points, (p) => [
      [String(p.value)],
      [number(report.recorded.sent), true],
      [number(p.sent), true],
      [number(sum(report.recorded.suppressed)), true],
      [number(sum(p.suppressed)), true],
      [number(report.recorded.users_reached), true],
      [number(p.users_reached), true],
    ]);
    rows('#flips-table', [], () => []);
  } else {
    $('#sweep-chart').hidden = true;
    $('#replay-summary').textContent = report.identical
      ? `identical to the recorded decisions (${number(report.decisions)} decisions)`
      : `${number(report.flips.total)} decisions changed outcome, ${number(report.users_affected)} users affected`;
    rows('#replay-table', report.messages, (m) => [
      [m.message_id],
      [number(m.before.sent), true],
      [number(m.after.sent), true],
      [number(sum(m.before.suppressed)), true],
      [number(sum(m.after.suppressed)), true],
      [number(m.before.users_reached), true],
      [number(m.after.users_reached), true],
    ]);
    rows('#flips-table', report.flips.first, (f) => [
      [f.entry_id],
      [f.user_id],
      [f.message_id],
      [f.recorded?.outcome ?? 'none'],
      [f.replayed?.outcome ?? 'none'],
      [f.replayed?.explanation ?? ''],
    ]);
  }
  status(`replay ${replay.replay_id}`, 'replay-ready');
}

function fail(error) {
  status(error.message, 'error');
}

const today = new Date();
$('#to').value = today.toISOString().slice(0, 10);
$('#from').value = new Date(today.getTime() - 6 * DAY).toISOString().slice(0, 10);
$('#key').value = initialKey();
for (const name of ['from', 'to', 'message']) {
  const given = params.get(name);
  if (given) $(`#${name}`).value = given;
}
$('#range-form').addEventListener('submit', (event) => {
  event.preventDefault();
  sessionStorage.setItem('nudge-key', $('#key').value);
  load().catch(fail);
});
$('#user-form').addEventListener('submit', (event) => lookUpUser(event).catch(fail));
$('#replay-form').addEventListener('submit', (event) => showReplay(event).catch(fail));
if ($('#key').value) load().catch(fail);
else status('give a read key to start', 'ready');
