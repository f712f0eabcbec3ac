// The `{…}` menu beside the composer's body: inserts a placeholder for a metadata key of the trigger
// event or a user attribute, with a fallback to fill in (`{{ metadata.file_name | fallback: "" }}`).

import { el } from './message-format.js';

/**
 * Wires `button` to open a menu of `groups()` (`[{label, items: [{path, note}]}]`) that inserts
 * into `field` at its caret, then leaves the caret inside the fallback's quotes.
 */
export function placeholderMenu(button, field, groups) {
  const menu = el('div', undefined, 'placeholder-menu');
  menu.setAttribute('role', 'menu');
  menu.setAttribute('aria-label', 'Placeholders');
  menu.id = `${field.id}-placeholders`;
  menu.hidden = true;
  button.setAttribute('aria-haspopup', 'menu');
  button.setAttribute('aria-controls', menu.id);
  button.setAttribute('aria-expanded', 'false');
  button.after(menu);

  const items = () => [...menu.querySelectorAll('[role="menuitem"]')];
  const close = (refocus) => {
    menu.hidden = true;
    button.setAttribute('aria-expanded', 'false');
    if (refocus) button.focus();
  };

  function insert(path) {
    const text = `{{ ${path} | fallback: "" }}`;
    const start = field.selectionStart ?? field.value.length;
    const end = field.selectionEnd ?? start;
    field.setRangeText(text, start, end, 'end');
    // The caret between the fallback's quotes: what to write when the value is missing.
    const caret = start + text.length - 4;
    field.focus();
    field.setSelectionRange(caret, caret);
    field.dispatchEvent(new window.Event('input', { bubbles: true }));
  }

  function open() {
    const sections = groups().filter((g) => g.items.length > 0);
    menu.replaceChildren(
      ...sections.map((group) => {
        const section = el('div', undefined, 'menu-group');
        section.setAttribute('role', 'group');
        section.setAttribute('aria-label', group.label);
        section.append(el('p', group.label, 'menu-title'));
        for (const item of group.items) {
          const choice = el('button', undefined, 'menu-item');
          choice.type = 'button';
          choice.setAttribute('role', 'menuitem');
          choice.tabIndex = -1;
          choice.append(el('code', item.path));
          if (item.note) choice.append(el('span', item.note, 'note'));
          choice.addEventListener('click', () => {
            close(false);
            insert(item.path);
          });
          section.append(choice);
        }
        return section;
      }),
    );
    if (sections.length === 0) menu.append(el('p', 'Pick a trigger event to see its metadata keys.', 'hint'));
    menu.hidden = false;
    button.setAttribute('aria-expanded', 'true');
    items()[0]?.focus();
  }

  button.addEventListener('click', () => (menu.hidden ? open() : close(true)));
  menu.addEventListener('keydown', (event) => {
    const list = items();
    const at = list.indexOf(document.activeElement);
    if (event.key === 'Escape') close(true);
    else if (event.key === 'ArrowDown') list[(at + 1) % list.length]?.focus();
    else if (event.key === 'ArrowUp') list[(at - 1 + list.length) % list.length]?.focus();
    else if (event.key === 'Tab') close(false);
    else return;
    event.preventDefault();
  });
  document.addEventListener('click', (event) => {
    if (!menu.hidden && !menu.contains(event.target) && event.target !== button) close(false);
  });
}
