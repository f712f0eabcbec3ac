// The overview's chart of decisions over time (GET /v1/stats/series by outcome), at a bucket of a
// minute, an hour or a day chosen from the range and from where its decisions are.

import { api } from './nudge-api.js';
import { axisTitle, COLORS, draw, lineLegend } from './charts.js';
import { number } from './format.js';
import { clock, DAY, HOUR, MINUTE, shortDay, time } from './times.js';

/** The series route's buckets, ms, and the most points it answers with. */
const BUCKETS = { minute: MINUTE, hour: HOUR, day: DAY };
const MAX_POINTS = 10_000;
const $ = (selector) => document.querySelector(selector);

/**
 * The bucket that draws a span in a readable number of points: minutes up to 6 hours (360 at
 * most), hours up to 14 days (336), days beyond.
 */
export const bucketFor = (span) => (span <= 6 * HOUR ? 'minute' : span <= 14 * DAY ? 'hour' : 'day');

/**
 * Decisions over time by outcome, at a bucket chosen from the range and from where its decisions
 * are: asked first at the bucket that suits the whole range (6 hours: minutes, a day: hours), then
 * again, finer, over the span that holds decisions when that span suits a finer bucket (a 7-day
 * range with two hours of decisions: hours, then minutes over those two hours). Empty buckets are
 * zeros. Not zoomed in, the whole range is drawn, its quiet ends included (no decisions lately is
 * news); zoomed in, a span of one or two buckets gets an empty one on each side (inside the range),
 * so a burst is a peak, not a dot. Buckets fall on round times whatever the range's ends.
 */
export async function seriesOver(query, from, to) {
  let bucket = bucketFor(to - from);
  let [lo, hi] = [from, to];
  let zoomed = false;
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
      [lo, hi, bucket, zoomed] = [first, end, finer, true];
      continue;
    }
    let [start, stop] = zoomed ? [first, end] : [lo, hi];
    if (zoomed && stop - start < 3 * width) {
      start = Math.max(from, start - width);
      stop = Math.min(to, stop + width);
    }
    const buckets = [];
    for (let at = Math.floor(start / width) * width; at < stop; at += width) buckets.push(at);
    return { bucket, buckets, points: series.points, narrowed: zoomed };
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

/** Where the series is, in words: "per minute, 2026-10-18 13:02–15:10 UTC"; the bucket even with nothing to draw. */
function seriesCaption(bucket, buckets, narrowed) {
  if (buckets.length === 0) return `per ${bucket}: no decisions in this range`;
  const start = buckets[0];
  const end = buckets[buckets.length - 1] + BUCKETS[bucket];
  let span;
  if (bucket === 'day') span = `${time(start, 'day')} to ${time(end - DAY, 'day')} UTC`;
  else if (Math.floor(start / DAY) === Math.floor((end - 1) / DAY))
    span = `${time(start, 'day')} ${clock(start)}–${end % DAY === 0 ? '24:00' : clock(end)} UTC`;
  else span = `${time(start, 'minute')} – ${time(end, 'minute')} UTC`;
  return `per ${bucket}, ${span}${narrowed ? ', the part of the range that holds decisions' : ''}`;
}

export function drawSeries({ bucket, buckets, points, narrowed }) {
  $('#series-caption').textContent = seriesCaption(bucket, buckets, narrowed);
  $('#series-panel').dataset.bucket = bucket;
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
