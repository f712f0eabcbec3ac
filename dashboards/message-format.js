// Times and durations as the messages page writes them.

const UNITS = [
  ['w', 604_800_000],
  ['d', 86_400_000],
  ['h', 3_600_000],
  ['m', 60_000],
  ['s', 1_000],
];

/** A duration in the message language, as a person writes it: 3600000 → "1h", 5400000 → "90m", 0 → "0". */
export function duration(ms) {
  if (ms === 0) return '0';
  for (const [unit, size] of UNITS) if (ms % size === 0) return `${ms / size}${unit}`;
  return `${ms}ms`;
}

/** An instant in UTC to the minute: "2026-10-05 09:12 UTC". */
export const when = (ms) => `${new Date(ms).toISOString().slice(0, 16).replace('T', ' ')} UTC`;

/** How long ago, roughly, as a person says it: "just now", "5 min ago", "3 h ago", "2 days ago". */
export function ago(ms, now = Date.now()) {
  const seconds = Math.max(0, Math.round((now - ms) / 1000));
  if (seconds < 60) return 'just now';
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ago`;
  if (seconds < 86_400) return `${Math.floor(seconds / 3600)} h ago`;
  const days = Math.floor(seconds / 86_400);
  return `${days} ${days === 1 ? 'day' : 'days'} ago`;
}

/** An element holding text (every value shown comes from the API or a person: never markup). */
export function el(tag, text, className) {
  const element = document.createElement(tag);
  if (text !== undefined && text !== null) element.textContent = String(text);
  if (className) element.className = className;
  return element;
}

/** An option of a select: its text, and its value. */
export function option(text, value) {
  const element = document.createElement('option');
  element.textContent = text;
  element.value = value;
  return element;
}
