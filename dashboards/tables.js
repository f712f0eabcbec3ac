// The overview's tables, filled from lists: every value set as text (it comes from the API or a
// person, never markup). A cell is `[text, numeric]`, or `[text, className]` for more than a number.

const $ = (selector) => document.querySelector(selector);

function cell(tag, [text, style]) {
  const element = document.createElement(tag);
  element.textContent = text;
  if (style === true) element.className = 'n';
  else if (typeof style === 'string') element.className = style;
  return element;
}

/** The body of the table `selector` names: a row per item, its cells from `cells(item)`. */
export function rows(selector, list, cells) {
  $(`${selector} tbody`).replaceChildren(
    ...list.map((item) => {
      const tr = document.createElement('tr');
      tr.append(...cells(item).map((spec) => cell('td', spec)));
      return tr;
    }),
  );
}

/** A table's header row: `[text, numeric]` per column. */
export function header(selector, columns) {
  const tr = document.createElement('tr');
  tr.append(...columns.map((spec) => cell('th', spec)));
  $(`${selector} thead`).replaceChildren(tr);
}
