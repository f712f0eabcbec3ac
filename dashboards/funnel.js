// The dashboard's funnel (GET /v1/stats/messages): a table row per message, each step after `sent`
// with its share of the sends and a bar that long, and under a row with failures, their reasons.

import { number, plural, sum } from './format.js';

/**
 * Channels other than in-app whose tracking links report `seen` (a mail opened, a push shown) and
 * `clicked` (a push clicked): mail links are not rewritten, so mail clicks are not counted.
 */
const TRACKS_SEEN = new Set(['email', 'push']);
const TRACKS_CLICKS = new Set(['push']);

/** A share as a person reads it: "92%", "<1%" for a sliver, nothing of no sends. */
function percent(part, whole) {
  if (whole === 0) return '';
  const share = part / whole;
  return share > 0 && share < 0.01 ? '<1%' : `${Math.round(share * 100)}%`;
}

/** A funnel cell, named by its column (`data-column`) so a test can find its figure. */
function funnelCell(column, text, numeric) {
  const td = document.createElement('td');
  td.dataset.column = column;
  td.textContent = text;
  if (numeric) td.className = 'n';
  return td;
}

/**
 * A step of the funnel after `sent`: the count, its share of the sends, and a bar that long. A dash
 * where the channel reports no such thing, not a zero that reads as "nobody".
 */
function stepCell(column, count, sent, reported) {
  if (!reported) return funnelCell(column, '–', true);
  // No sends: nothing to be a share of.
  if (sent === 0) return funnelCell(column, number(count), true);
  const td = funnelCell(column, '', true);
  td.classList.add('step', column);
  const figure = document.createElement('span');
  figure.className = 'count';
  figure.textContent = number(count);
  td.append(figure);
  // The sends themselves are the whole: their bar is the scale, without a "100%".
  if (column !== 'sent') {
    const share = document.createElement('span');
    share.className = 'share';
    share.textContent = percent(count, sent);
    td.append(share);
  }
  const bar = document.createElement('span');
  bar.className = 'bar';
  const fill = document.createElement('span');
  fill.style.width = `${Math.min(100, (100 * count) / sent)}%`;
  bar.append(fill);
  td.append(bar);
  return td;
}

/** Sends suppressed for one reason, in the suppressed colour when there are any. */
function suppressedCell(column, count) {
  const td = funnelCell(column, number(count), true);
  if (count > 0) td.classList.add('suppressed');
  return td;
}

/** Under a row with failures: why they failed, the commonest reasons first, and how many for others. */
function reasonsRow(m, columns) {
  const tr = document.createElement('tr');
  tr.className = 'failures';
  tr.dataset.message = m.message_id;
  tr.dataset.channel = m.channel;
  const td = document.createElement('td');
  td.colSpan = columns;
  const label = document.createElement('span');
  label.className = 'label';
  label.textContent = `${plural(m.failed, 'send')} failed:`;
  td.append(label);
  const chip = (reason, count) => {
    const span = document.createElement('span');
    span.className = 'reason';
    const figure = document.createElement('b');
    figure.textContent = number(count);
    span.append(`${reason} `, figure);
    return span;
  };
  for (const r of m.failed_reasons) td.append(chip(r.reason || 'no reason recorded', r.failed));
  const listed = m.failed_reasons.reduce((a, r) => a + r.failed, 0);
  if (m.failed > listed) td.append(chip('other reasons', m.failed - listed));
  tr.append(td);
  return tr;
}

/**
 * The funnel into `body`, a row per message (on its channel): triggered; why not sent (filtered, unsubscribed,
 * unreachable, other suppressions); sent, then what senders reported (delivered, failed) and what
 * people did (seen or opened, clicked, dismissed) where the channel reports it, each with its share
 * of the sends;
 * and under a row with failures, their reasons.
 */
export function showFunnel(body, messages, inAppChannels) {
  body.replaceChildren(
    ...messages.flatMap((m) => {
      const inApp = inAppChannels.includes(m.channel);
      const unsubscribed = m.suppressed.unsubscribed ?? 0;
      const unreachable = m.suppressed.unreachable ?? 0;
      const others = Object.entries(m.suppressed).filter(
        ([r]) => r !== 'unsubscribed' && r !== 'unreachable',
      );
      const other = funnelCell('other_suppressed', number(sum(Object.fromEntries(others))), true);
      other.title = others.map(([r, n]) => `${r}: ${number(n)}`).join('\n');
      const tr = document.createElement('tr');
      tr.className = 'message';
      tr.dataset.message = m.message_id;
      tr.dataset.channel = m.channel;
      tr.append(
        funnelCell('message', m.message_id),
        funnelCell('channel', m.channel),
        funnelCell('triggered', number(m.triggered), true),
        funnelCell('filtered', number(sum(m.filtered)), true),
        suppressedCell('unsubscribed', unsubscribed),
        suppressedCell('unreachable', unreachable),
        other,
        stepCell('sent', m.sent, m.sent, true),
        stepCell('delivered', m.delivered, m.sent, !inApp),
        stepCell('failed', m.failed, m.sent, !inApp),
        stepCell('seen', m.seen, m.sent, inApp || TRACKS_SEEN.has(m.channel)),
        stepCell('clicked', m.clicked, m.sent, inApp || TRACKS_CLICKS.has(m.channel)),
        stepCell('dismissed', m.dismissed, m.sent, inApp),
        funnelCell('users_reached', number(m.users_reached), true),
      );
      return m.failed > 0 ? [tr, reasonsRow(m, tr.children.length)] : [tr];
    }),
  );
}
