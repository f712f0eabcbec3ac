// The dashboard (issue #5): the stats API drawn with Chart.js, a user's decisions, a replay's diff.
// A plain ES module served as it is (no build step); it asks the API with the key it is given.

import { number, plural, sum } from './format.js';
import { showFunnel } from './funnel.js';

const MINUTE = 60_000;
const HOUR = 3_600_000;
const DAY = 86_400_000;
/** The series route's buckets, ms, and the most points it answers with. */
const BUCKETS = { minute: MINUTE, hour: HOUR, day: DAY };
const MAX_POINTS = 10_000;
const COLORS = { sent: '#2f7d4f', suppressed: '#c2672d', filtered: '#7a7f87', users: '#3a6ea5' };
/**
 * The channels whose sends a page shows, so that seen, clicked and dismissed mean something
 * (`IN_APP_CHANNELS` in pipeline/ports/inbox.ts; a test holds the two equal, as this page is served
 * as it is and cannot import it).
 */
const IN_APP_CHANNELS = ['banner', 'post', 'chat', 'survey', 'tour', 'carousel'];
const charts = new Map();
const $ = (selector) => document.querySelector(selector);

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

/** What the header says of the range shown, kept while a replay is shown (the replay's panel says the rest). */
let rangeStatus = '';

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

/** An axis title, in the page's small grey. */
const axisTitle = (text) => ({ display: true, text, color: '#555' });
/** A line chart's legend: each line as a short stroke, dashed where the line is. */
const lineLegend = { labels: { boxWidth: 28, boxHeight: 0 } };

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

/** A table's header row: `[text, numeric]` per column. */
function header(selector, columns) {
  const tr = document.createElement('tr');
  for (const [text, numeric] of columns) {
    const th = document.createElement('th');
    th.textContent = text;
    if (numeric) th.className = 'n';
    tr.append(th);
  }
  $(`${selector} thead`).replaceChildren(tr);
}

const time = (ms, bucket) =>
  new Date(ms)
    .toISOString()
    .slice(0, bucket === 'day' ? 10 : 16)
    .replace('T', ' ');
const clock = (ms) => new Date(ms).toISOString().slice(11, 16);
const shortDay = (ms) =>
  new Date(ms).toLocaleDateString('en-US', { month: 'short', day: 'numeric', timeZone: 'UTC' });

/**
 * The bucket that draws a span in a readable number of points: minutes up to 6 hours (360 at
 * most), hours up to 14 days (336), days beyond.
 */
const bucketFor = (span) => (span <= 6 * HOUR ? 'minute' : span <= 14 * DAY ? 'hour' : 'day');

/**
 * Decisions over time by outcome, at a bucket chosen from where the decisions are: asked first at
 * the bucket that suits the whole range, then again, finer, over the span that holds decisions,
 * until the bucket suits that span (a 7-day range with two hours of decisions: hours, then minutes
 * over those two hours). Empty buckets are zeros; a span of one or two buckets gets an empty one on
 * each side (inside the range), so a burst is a peak, not a dot.
 */
async function seriesOver(query, from, to) {
  let bucket = bucketFor(to - from);
  let [lo, hi] = [from, to];
  for (;;) {
    const width = BUCKETS[bucket];
    const points = Math.ceil((hi - lo) / width);
    if (points > MAX_POINTS)
      throw new Error(`the range is ${number(points)} ${bucket}s long: draw at most ${number(MAX_POINTS)}`);
    const asked = new URLSearchParams(query);
    asked.set('from', String(lo));
    asked.set('to', String(hi));
    asked.set('bucket', bucket);
    asked.set('by', 'outcome');
    const series = await api(`/v1/stats/series?${asked}`);
    if (series.points.length === 0) return { bucket, buckets: [], points: [] };
    const times = series.points.map((p) => p.at);
    const first = Math.max(lo, Math.min(...times));
    const end = Math.min(hi, Math.max(...times) + width);
    const finer = bucketFor(end - first);
    if (BUCKETS[finer] < width) {
      [lo, hi, bucket] = [first, end, finer];
      continue;
    }
    let [start, stop] = [first, end];
    if (stop - start < 3 * width) {
      start = Math.max(from, start - width);
      stop = Math.min(to, stop + width);
    }
    const buckets = [];
    for (let at = start; at < stop; at += width) buckets.push(at);
    return { bucket, buckets, points: series.points, narrowed: stop - start < to - from };
  }
}

/** Ticks on round times, about `most` of them; a tick's date under it where the day changes. */
function ticksFor(buckets, bucket, most) {
  const steps = {
    minute: [1, 2, 5, 10, 15, 30, 60, 120, 180, 360],
    hour: [1, 2, 3, 6, 12, 24, 48, 72, 168],
    day: [1, 2, 7, 14, 28, 91, 182, 364],
  }[bucket];
  const step = steps.find((s) => buckets.length / s <= most) ?? steps[steps.length - 1];
  const width = BUCKETS[bucket];
  let lastDay;
  return buckets.map((at) => {
    if (Math.round(at / width) % step !== 0) return null;
    if (bucket === 'day') return shortDay(at);
    const day = Math.floor(at / DAY);
    const label = day === lastDay ? clock(at) : [clock(at), shortDay(at)];
    lastDay = day;
    return label;
  });
}

/** Where the series is, in words: "per minute, 2026-10-18 13:02–15:10 UTC". */
function seriesCaption(bucket, buckets, narrowed) {
  if (buckets.length === 0) return 'no decisions in this range';
  const start = buckets[0];
  const end = buckets[buckets.length - 1] + BUCKETS[bucket];
  let span;
  if (bucket === 'day') span = `${time(start, 'day')} to ${time(end - DAY, 'day')} UTC`;
  else if (Math.floor(start / DAY) === Math.floor((end - 1) / DAY))
    span = `${time(start, 'day')} ${clock(start)}–${end % DAY === 0 ? '24:00' : clock(end)} UTC`;
  else span = `${time(start, 'minute')} – ${time(end, 'minute')} UTC`;
  return `per ${bucket}, ${span}${narrowed ? ', the part of the range that holds decisions' : ''}`;
}

function drawSeries({ bucket, buckets, points, narrowed }) {
  $('#series-caption').textContent = seriesCaption(bucket, buckets, narrowed);
  const count = new Map(points.map((p) => [`${p.at} ${p.key}`, p.decisions]));
  const most = Math.max(4, Math.floor($('#series-chart').parentElement.clientWidth / 90));
  const ticks = ticksFor(buckets, bucket, most);
  const dots = buckets.length <= 48;
  draw('#series-chart', {
    type: 'line',
    data: {
      labels: buckets.map((at) => (bucket === 'day' ? time(at, 'day') : `${time(at, 'minute')} UTC`)),
      datasets: ['sent', 'suppressed', 'filtered'].map((outcome) => ({
        label: outcome,
        data: buckets.map((at) => count.get(`${at} ${outcome}`) ?? 0),
        borderColor: COLORS[outcome],
        backgroundColor: COLORS[outcome],
        borderWidth: 2,
        pointRadius: dots ? 2 : 0,
        pointHitRadius: 6,
        cubicInterpolationMode: 'monotone',
      })),
    },
    options: {
      interaction: { mode: 'index', intersect: false },
      plugins: { legend: lineLegend },
      scales: {
        x: {
          title: axisTitle(`time (UTC), per ${bucket}`),
          ticks: { autoSkip: false, maxRotation: 0, callback: (_value, index) => ticks[index] },
        },
        y: {
          beginAtZero: true,
          title: axisTitle(`decisions per ${bucket}`),
          ticks: { precision: 0 },
        },
      },
    },
  });
}

async function load() {
  const { from, to, query } = range();
  status('loading…', 'loading');
  const [summary, series, messages, frequency] = await Promise.all([
    api(`/v1/stats/summary?${query}`),
    seriesOver(query, from, to),
    api(`/v1/stats/messages?${query}`),
    api(`/v1/stats/frequency?${query}`),
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
  rangeStatus = `${time(from, 'day')} to ${time(to - DAY, 'day')}: ${plural(summary.decisions, 'decision')}`;
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

/** A duration as a person writes it: 900000 → "15m", 5400000 → "90m", 0 → "0". */
function duration(ms) {
  if (ms === 0) return '0';
  for (const [unit, size] of [
    ['w', 7 * DAY],
    ['d', DAY],
    ['h', HOUR],
    ['m', MINUTE],
    ['s', 1_000],
  ])
    if (ms % size === 0) return `${ms / size}${unit}`;
  return `${ms}ms`;
}

/** A sweep's target in words: its column header ("min_interval of upload-ready", "cap 0: per"), and in a sentence. */
function swept(target) {
  if ('message' in target)
    return {
      short: `${target.limit} of ${target.message}`,
      sentence: `${target.message}'s ${target.limit === 'min_interval' ? 'minimum interval' : 'maximum sends'}`,
      durations: target.limit === 'min_interval',
    };
  return {
    short: `cap ${target.cap}: ${target.field}`,
    sentence: `global cap ${target.cap}'s ${target.field === 'max' ? 'maximum sends' : 'window (per)'}`,
    durations: target.field === 'per',
  };
}

const signed = (n) => (n > 0 ? `+${number(n)}` : n < 0 ? `−${number(-n)}` : '0');

function showSweep(report) {
  const target = swept(report.target);
  const value = (v) => (v === null ? 'no limit' : target.durations ? duration(v) : number(v));
  const { recorded } = report;
  $('#replay-summary').textContent =
    `Sweep of ${target.sentence} over ${plural(report.points.length, 'value')}: ` +
    `recorded ${plural(recorded.sent, 'send')} to ${plural(recorded.users_reached, 'user')}.`;
  header('#replay-table', [
    [target.short],
    ['sends', true],
    ['sends vs recorded', true],
    ['suppressed', true],
    ['users reached', true],
    ['users vs recorded', true],
  ]);
  rows('#replay-table', report.points, (p) => [
    [value(p.value)],
    [number(p.sent), true],
    [signed(p.sent - recorded.sent), true],
    [number(sum(p.suppressed)), true],
    [number(p.users_reached), true],
    [signed(p.users_reached - recorded.users_reached), true],
  ]);
  const line = (label, data, color, dashed) => ({
    label,
    data,
    borderColor: color,
    backgroundColor: color,
    borderWidth: 2,
    borderDash: dashed ? [6, 4] : [],
    pointRadius: dashed ? 0 : 3,
  });
  $('#sweep-chart').hidden = false;
  draw('#sweep-chart', {
    type: 'line',
    data: {
      labels: report.points.map((p) => value(p.value)),
      datasets: [
        line(
          'sends',
          report.points.map((p) => p.sent),
          COLORS.sent,
        ),
        line(
          'users reached',
          report.points.map((p) => p.users_reached),
          COLORS.users,
        ),
        line(
          'sends as recorded',
          report.points.map(() => recorded.sent),
          COLORS.sent,
          true,
        ),
        line(
          'users as recorded',
          report.points.map(() => recorded.users_reached),
          COLORS.users,
          true,
        ),
      ],
    },
    options: {
      interaction: { mode: 'index', intersect: false },
      plugins: { legend: lineLegend },
      scales: {
        x: { title: axisTitle(target.short) },
        y: { beginAtZero: true, title: axisTitle('sends / users'), ticks: { precision: 0 } },
      },
    },
  });
  $('#flips').hidden = true;
}

function showDiff(report) {
  $('#sweep-chart').hidden = true;
  $('#replay-summary').textContent = report.identical
    ? `identical to the recorded decisions (${plural(report.decisions, 'decision')})`
    : `${number(report.flips.total)} decisions changed outcome, ${number(report.users_affected)} users affected`;
  header('#replay-table', [
    ['message'],
    ['sent before', true],
    ['sent after', true],
    ['suppressed before', true],
    ['suppressed after', true],
    ['users reached before', true],
    ['users reached after', true],
  ]);
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
  $('#flips').hidden = report.flips.first.length === 0;
}

async function showReplay(event) {
  event.preventDefault();
  status('loading the replay…', 'loading');
  const replay = await api(`/v1/replays/${encodeURIComponent($('#replay-input').value.trim())}`);
  const what = replay.kind === 'sweep' ? 'sweep' : 'replay';
  if (replay.status !== 'done') {
    $('#replay-summary').textContent =
      `${what} ${replay.status}: ${number(replay.entries_done)} of ${number(replay.entries_total)} entries${replay.error ? ` (${replay.error})` : ''}`;
    for (const part of ['#replay-table', '#flips', '#sweep-chart']) $(part).hidden = true;
    status(rangeStatus, 'replay-ready');
    return;
  }
  $('#replay-table').hidden = false;
  if (replay.kind === 'sweep') showSweep(replay.report);
  else showDiff(replay.report);
  status(rangeStatus, 'replay-ready');
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
