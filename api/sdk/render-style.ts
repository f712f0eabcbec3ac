/**
 * The default look of rendered messages (README "Show messages in your app"). Every selector is
 * inside `:where()`, so it weighs nothing: any rule of the page naming `.nudge-banner`,
 * `.nudge-post`, `.nudge-chat`, `.nudge-survey` (or their parts, `.nudge-subject`, `.nudge-body`,
 * `.nudge-dismiss`, `.nudge-answers`) wins over it, wherever it comes in the page. Calm on
 * purpose: the system font, one accent, a soft shadow, motion only for those who have not asked
 * for less.
 */
export const STYLE = `
:where(.nudge-top, .nudge-corner) {
  --nudge-accent: #2f5bd3;
  --nudge-ink: #1f2933;
  --nudge-muted: #52606d;
  --nudge-line: #dfe3e8;
  position: fixed;
  z-index: 2147483000;
  display: flex;
  flex-direction: column;
  font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
  color: var(--nudge-ink);
  pointer-events: none;
}
:where(.nudge-top, .nudge-corner) :where(*) { box-sizing: border-box; }
:where(.nudge-top) { top: 0; left: 0; right: 0; }
:where(.nudge-corner) {
  right: 20px;
  bottom: 20px;
  width: min(360px, calc(100vw - 40px));
  gap: 12px;
  align-items: stretch;
}
:where(.nudge-message) {
  position: relative;
  pointer-events: auto;
  margin: 0;
  animation: nudge-in 180ms ease-out;
}
:where(.nudge-subject) { margin: 0 0 2px; font-weight: 600; color: inherit; }
:where(.nudge-body) { margin: 0; color: inherit; white-space: pre-line; overflow-wrap: anywhere; }
/* Room for the close button beside the first line only: answers and long bodies use the full width. */
:where(.nudge-post, .nudge-survey) > :where(:first-child) { padding-right: 30px; }
:where(.nudge-dismiss) {
  position: absolute;
  top: 10px;
  right: 10px;
  display: grid;
  place-items: center;
  width: 28px;
  height: 28px;
  padding: 0;
  border: 0;
  border-radius: 50%;
  background: transparent;
  color: inherit;
  opacity: 0.6;
  cursor: pointer;
}
:where(.nudge-dismiss:hover) { opacity: 1; background: rgba(15, 23, 42, 0.07); }
:where(.nudge-dismiss:focus-visible, .nudge-answers button:focus-visible) {
  outline: 2px solid var(--nudge-accent);
  outline-offset: 2px;
}
:where(.nudge-dismiss svg) { width: 14px; height: 14px; }

:where(.nudge-banner) {
  display: flex;
  justify-content: center;
  align-items: baseline;
  flex-wrap: wrap;
  gap: 4px 10px;
  padding: 11px 52px;
  background: #eef3ff;
  border-bottom: 1px solid #cdd9f5;
  box-shadow: 0 2px 8px rgba(15, 23, 42, 0.06);
  text-align: center;
  animation-name: nudge-drop;
}
:where(.nudge-banner .nudge-subject) { margin: 0; }
:where(.nudge-banner .nudge-dismiss) { top: 50%; transform: translateY(-50%); }

:where(.nudge-post, .nudge-survey) {
  padding: 16px 18px;
  background: #fff;
  border: 1px solid var(--nudge-line);
  border-radius: 12px;
  box-shadow: 0 1px 2px rgba(15, 23, 42, 0.06), 0 10px 28px rgba(15, 23, 42, 0.12);
}
:where(.nudge-post .nudge-subject, .nudge-survey .nudge-subject) { font-size: 15px; margin-bottom: 4px; }
:where(.nudge-post .nudge-body) { color: var(--nudge-muted); }

:where(.nudge-chat) {
  align-self: flex-end;
  max-width: 300px;
  padding: 10px 42px 11px 15px;
  background: var(--nudge-accent);
  color: #fff;
  border-radius: 18px 18px 4px 18px;
  box-shadow: 0 8px 22px rgba(47, 91, 211, 0.28);
}
:where(.nudge-chat .nudge-subject) { font-size: 12px; font-weight: 600; opacity: 0.85; }
:where(.nudge-chat .nudge-dismiss) { top: 6px; right: 6px; }
:where(.nudge-chat .nudge-dismiss:hover) { background: rgba(255, 255, 255, 0.18); }

:where(.nudge-survey .nudge-body) { font-weight: 500; }
:where(.nudge-answers) { display: flex; gap: 6px; margin-top: 12px; }
:where(.nudge-answers button) {
  flex: 1;
  height: 36px;
  padding: 0;
  border: 1px solid #cbd2d9;
  border-radius: 8px;
  background: #fff;
  color: var(--nudge-ink);
  font: inherit;
  font-weight: 600;
  cursor: pointer;
}
:where(.nudge-answers button:hover) { border-color: var(--nudge-accent); background: #f2f6ff; color: var(--nudge-accent); }
:where(.nudge-scale) {
  display: flex;
  justify-content: space-between;
  margin-top: 6px;
  font-size: 12px;
  color: var(--nudge-muted);
}
:where(.nudge-thanks) { margin: 10px 0 0; color: var(--nudge-muted); }

@keyframes nudge-in { from { opacity: 0; transform: translateY(8px); } }
@keyframes nudge-drop { from { opacity: 0; transform: translateY(-100%); } }
@media (prefers-reduced-motion: reduce) {
  :where(.nudge-message) { animation: none; }
}
`;

/**
 * Puts the style in the page once, first in <head>: a page's own rules come after it, so even a
 * rule as light as these (another `:where()`) wins.
 */
export function injectStyle(doc: Document): void {
  if (doc.querySelector('style[data-nudge-style]') !== null) return;
  const style = doc.createElement('style');
  style.setAttribute('data-nudge-style', '');
  style.textContent = STYLE;
  doc.head.prepend(style);
}
