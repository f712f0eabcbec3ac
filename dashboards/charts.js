// The overview's charts: one look for all of them (colours, axis titles, legends), drawn by Chart.js
// (loaded before the modules, as `Chart`), one chart per canvas, redrawn in place.

export const COLORS = { sent: '#2f7d4f', suppressed: '#c2672d', filtered: '#7a7f87', users: '#3a6ea5' };

/** An axis title, in the page's small grey. */
export const axisTitle = (text) => ({ display: true, text, color: '#555' });
/** A line chart's legend: each line as a short stroke, dashed where the line is. */
export const lineLegend = { labels: { boxWidth: 28, boxHeight: 0 } };

const charts = new Map();

/** Draws `config` on the canvas `selector` names, in place of what it drew before. */
export function draw(selector, config) {
  charts.get(selector)?.destroy();
  charts.set(
    selector,
    new Chart(document.querySelector(selector), {
      ...config,
      options: { animation: false, responsive: true, ...config.options },
    }),
  );
}
