// Numbers as the dashboard writes them, shared by its modules.

/** 1234 → "1,234". */
export const number = (n) => Number(n).toLocaleString('en-US');
/** (2, 'send') → "2 sends", (1, 'send') → "1 send". */
export const plural = (n, one, many = `${one}s`) => `${number(n)} ${n === 1 ? one : many}`;
/** The total of a `{key: count}` object. */
export const sum = (counts) => Object.values(counts).reduce((a, b) => a + b, 0);
