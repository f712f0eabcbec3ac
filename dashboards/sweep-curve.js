// A sweep's report (README "Replaying the recorded log"): for each value of the swept limit, the
// target's sends, suppressions and users reached, drawn against that value beside what was
// recorded, with axis titles that say what each axis counts.

import { duration } from './message-format.js';
import { axisTitle, COLORS, draw, lineLegend } from './charts.js';
import { number, plural, sum } from './format.js';
import { header, rows } from './tables.js';

const $ = (selector) => document.querySelector(selector);
const signed = (n) => (n > 0 ? `+${number(n)}` : n < 0 ? `−${number(-n)}` : '0');

const line = (label, data, color, { dashed = false, axis = 'y' } = {}) => ({
  label,
  data,
  yAxisID: axis,
  borderColor: color,
  backgroundColor: color,
  borderWidth: 2,
  borderDash: dashed ? [6, 4] : [],
  pointRadius: dashed ? 0 : 3,
});

/** Shows a sweep's report, its limit described by `words` (`describeTarget`). */
export function showSweep(report, words) {
  const value = (v) => (v === null ? 'none' : words.kind === 'duration' ? duration(v) : number(v));
  const { recorded, points } = report;
  $('#sweep-summary').textContent =
    `${plural(points.length, 'value')} of ${words.name}. As recorded: ${plural(recorded.sent, 'send')} ` +
    `to ${plural(recorded.users_reached, 'user')}, ${number(sum(recorded.suppressed))} suppressed.`;
  header('#sweep-table', [
    [words.column],
    ['sends', true],
    ['sends vs recorded', true],
    ['suppressed', true],
    ['users reached', true],
    ['users vs recorded', true],
  ]);
  rows('#sweep-table', points, (p) => [
    [value(p.value)],
    [number(p.sent), true],
    [signed(p.sent - recorded.sent), true],
    [number(sum(p.suppressed)), true],
    [number(p.users_reached), true],
    [signed(p.users_reached - recorded.users_reached), true],
  ]);
  const each = (pick) => points.map(pick);
  draw('#sweep-chart', {
    type: 'line',
    data: {
      labels: each((p) => value(p.value)),
      datasets: [
        line(
          'sends',
          each((p) => p.sent),
          COLORS.sent,
        ),
        line(
          'suppressed',
          each((p) => sum(p.suppressed)),
          COLORS.suppressed,
        ),
        line(
          'users reached (right axis)',
          each((p) => p.users_reached),
          COLORS.users,
          { axis: 'users' },
        ),
        line(
          'sends as recorded',
          each(() => recorded.sent),
          COLORS.sent,
          { dashed: true },
        ),
        line(
          'users as recorded',
          each(() => recorded.users_reached),
          COLORS.users,
          { dashed: true, axis: 'users' },
        ),
      ],
    },
    options: {
      interaction: { mode: 'index', intersect: false },
      plugins: { legend: lineLegend },
      scales: {
        x: { title: axisTitle(words.axis) },
        y: {
          beginAtZero: true,
          grace: '8%',
          title: axisTitle('sends and suppressions (decisions over the window)'),
          ticks: { precision: 0 },
        },
        users: {
          position: 'right',
          beginAtZero: true,
          // Room above the most users, so a line of everyone reached is not drawn on the frame.
          grace: '8%',
          title: axisTitle('users reached (users)'),
          ticks: { precision: 0 },
          grid: { drawOnChartArea: false },
        },
      },
    },
  });
}
