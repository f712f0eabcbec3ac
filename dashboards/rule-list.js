// A list of condition rules in the composer ("where" on the trigger, and the audience): a row per
// leaf `{field, op, value}`, joined by all or any, built from fields with the types seen for them.

import { el, option } from './message-format.js';

const OP_LABELS = {
  eq: 'is',
  neq: 'is not',
  gt: 'is greater than',
  gte: 'is at least',
  lt: 'is less than',
  lte: 'is at most',
  contains: 'contains',
  not_contains: 'does not contain',
  starts_with: 'starts with',
  ends_with: 'ends with',
  in: 'is one of (a, b, …)',
  not_in: 'is none of (a, b, …)',
  exists: 'is present',
  not_exists: 'is missing',
};
const ALL_OPS = Object.keys(OP_LABELS);
/** The ops that make sense for the JSON types seen of a field (README: numbers compare, strings match). */
const OPS_BY_TYPE = {
  number: ['eq', 'neq', 'gt', 'gte', 'lt', 'lte', 'in', 'not_in', 'exists', 'not_exists'],
  string: [
    'eq',
    'neq',
    'contains',
    'not_contains',
    'starts_with',
    'ends_with',
    'in',
    'not_in',
    'exists',
    'not_exists',
  ],
  boolean: ['eq', 'neq', 'exists', 'not_exists'],
};
const NO_VALUE = new Set(['exists', 'not_exists']);
const LISTS = new Set(['in', 'not_in']);
/** The field option that lets a person type a field the catalog has not seen. */
const OTHER = '__other';
/** Each row's problem has an id of its own, which its controls name (aria-describedby). */
let problems = 0;

function opsFor(types) {
  if (types.length !== 1) return ALL_OPS;
  return OPS_BY_TYPE[types[0]] ?? ALL_OPS;
}

/** What a person typed as the value, as the JSON type the field is seen with (a number for a number). */
function typed(text, types) {
  const trimmed = text.trim();
  const only = types.length === 1 ? types[0] : undefined;
  if (only === 'string') return text;
  if ((only === 'number' || only === undefined) && /^-?\d+(\.\d+)?$/.test(trimmed)) return Number(trimmed);
  if ((only === 'boolean' || only === undefined) && (trimmed === 'true' || trimmed === 'false'))
    return trimmed === 'true';
  return text;
}

const shownValue = (value) => (Array.isArray(value) ? value.map(String).join(', ') : String(value));

/**
 * A rule list in `container`. `name` prefixes every control's accessible name ("Where rule 1
 * field"); `fields()` gives the fields to offer, `[{path, types, group}]`; `free`: the field is
 * typed (the audience's `user.*`, suggested from `suggestions`) rather than picked; `onChange`
 * runs on every edit.
 */
export function ruleList(container, { name, fields, free = false, suggestions, onChange }) {
  const rows = [];
  const match = el('select');
  match.setAttribute('aria-label', `${name}: how the rules combine`);
  match.append(option('all of these rules hold', 'all'), option('any of them holds', 'any'));
  const matchLabel = el('label', undefined, 'match');
  matchLabel.append(el('span', 'Send when'), match);
  const list = el('div', undefined, 'rules');
  const add = el('button', 'Add rule', 'add-rule');
  add.type = 'button';
  add.setAttribute('aria-label', `Add ${name.toLowerCase()} rule`);
  const raw = el('div', undefined, 'raw-condition');
  raw.hidden = true;
  const groupError = el('p', '', 'error');
  container.append(matchLabel, list, raw, add, groupError);
  let kept;

  const typesOf = (path) => fields().find((f) => f.path === path)?.types ?? [];
  const changed = () => {
    matchLabel.hidden = rows.length < 2;
    onChange();
  };

  function fieldControl(row, label) {
    if (free) {
      const input = el('input');
      input.setAttribute('aria-label', `${label} field`);
      input.setAttribute('list', suggestions);
      input.placeholder = 'user.plan';
      input.spellcheck = false;
      return { control: input, path: () => input.value.trim(), set: (p) => (input.value = p) };
    }
    const select = el('select');
    select.setAttribute('aria-label', `${label} field`);
    const other = el('input', undefined, 'other-field');
    other.setAttribute('aria-label', `${label} field path`);
    other.placeholder = 'metadata.key';
    other.spellcheck = false;
    const fill = (current) => {
      const groups = new Map();
      for (const f of fields()) {
        if (!groups.has(f.group)) groups.set(f.group, el('optgroup'));
        groups.get(f.group).label = f.group;
        const text = f.types.length ? `${f.path} (${f.types.join(' or ')})` : f.path;
        groups.get(f.group).append(option(text, f.path));
      }
      select.replaceChildren(...groups.values(), option('another field…', OTHER));
      const known = fields().some((f) => f.path === current);
      select.value = current === undefined ? (select.options[0]?.value ?? OTHER) : known ? current : OTHER;
      if (!known && current !== undefined) other.value = current;
      other.hidden = select.value !== OTHER;
    };
    row.refill = () => fill(row.path());
    const path = () => (select.value === OTHER ? other.value.trim() : select.value);
    const wrap = el('span', undefined, 'field-pick');
    wrap.append(select, other);
    select.addEventListener('change', () => {
      other.hidden = select.value !== OTHER;
      if (!other.hidden) other.focus();
    });
    fill(undefined);
    return { control: wrap, path, set: (p) => fill(p) };
  }

  function addRow(leaf) {
    const row = {};
    const index = () => rows.indexOf(row);
    const box = el('div', undefined, 'rule');
    box.setAttribute('role', 'group');
    const label = `${name} rule ${rows.length + 1}`;
    box.setAttribute('aria-label', label);
    const field = fieldControl(row, label);
    row.path = field.path;
    const op = el('select');
    op.setAttribute('aria-label', `${label} operator`);
    const value = el('input');
    value.setAttribute('aria-label', `${label} value`);
    value.spellcheck = false;
    const remove = el('button', '×', 'remove-rule');
    remove.type = 'button';
    remove.setAttribute('aria-label', `Remove ${label.toLowerCase()}`);
    const error = el('p', '', 'error');
    error.id = `rule-problem-${++problems}`;
    box.append(field.control, op, value, remove, error);
    const refreshOps = () => {
      const types = typesOf(row.path());
      const current = op.value;
      op.replaceChildren(...opsFor(types).map((o) => option(OP_LABELS[o], o)));
      op.value = opsFor(types).includes(current) ? current : op.options[0].value;
      value.hidden = NO_VALUE.has(op.value);
      value.placeholder = LISTS.has(op.value) ? 'a, b, c' : types.includes('number') ? '120' : 'value';
    };
    row.refreshOps = refreshOps;
    row.leaf = () => {
      const leaf = { field: row.path(), op: op.value };
      if (NO_VALUE.has(op.value)) return leaf;
      const types = typesOf(leaf.field);
      if (LISTS.has(op.value))
        leaf.value = value.value
          .split(',')
          .map((v) => v.trim())
          .filter((v) => v !== '')
          .map((v) => typed(v, types));
      else if (value.value !== '') leaf.value = typed(value.value, types);
      return leaf;
    };
    row.error = error;
    row.controls = { field: field.control, op, value };
    for (const control of [...box.querySelectorAll('input, select')])
      control.setAttribute('aria-describedby', error.id);
    // A field picked anew offers its own ops; typing a value changes none of them.
    const edited = (event) => {
      if (event.target !== value) refreshOps();
      changed();
    };
    box.addEventListener('input', edited);
    box.addEventListener('change', edited);
    remove.addEventListener('click', () => {
      rows.splice(index(), 1);
      box.remove();
      relabel();
      changed();
    });
    if (leaf) {
      field.set(leaf.field);
      refreshOps();
      if (!Array.from(op.options).some((o) => o.value === leaf.op))
        op.append(option(OP_LABELS[leaf.op] ?? leaf.op, leaf.op));
      op.value = leaf.op;
      value.value = leaf.value === undefined ? '' : shownValue(leaf.value);
    }
    refreshOps();
    rows.push(row);
    list.append(box);
    return row;
  }

  /** Rows renamed after one is removed, so "rule 2" is always the second. */
  function relabel() {
    rows.forEach((row, i) => {
      const label = `${name} rule ${i + 1}`;
      const box = row.error.parentElement;
      box.setAttribute('aria-label', label);
      for (const [part, control] of Object.entries(row.controls)) {
        const target = control.tagName === 'SPAN' ? control.firstChild : control;
        target.setAttribute('aria-label', `${label} ${part === 'op' ? 'operator' : part}`);
        if (control.tagName === 'SPAN') control.lastChild.setAttribute('aria-label', `${label} field path`);
      }
      box.querySelector('.remove-rule').setAttribute('aria-label', `Remove ${label.toLowerCase()}`);
    });
  }

  add.addEventListener('click', () => {
    const row = addRow();
    changed();
    row.controls.field.querySelector?.('select')?.focus();
    if (free) row.controls.field.focus();
  });
  match.addEventListener('change', changed);

  /** Fills the rows from a condition; one nested deeper than a group of leaves is kept as it is. */
  function setCondition(condition) {
    rows.splice(0).forEach((row) => row.error.parentElement.remove());
    kept = undefined;
    raw.hidden = true;
    add.hidden = false;
    if (condition === undefined) return changed();
    const group = 'all' in condition ? 'all' : 'any' in condition ? 'any' : undefined;
    const leaves = group ? condition[group] : [condition];
    if (leaves.some((leaf) => !('field' in leaf))) {
      kept = condition;
      const over = el('button', 'Replace them with new rules', 'add-rule');
      over.type = 'button';
      over.addEventListener('click', () => {
        setCondition(undefined);
        add.click();
      });
      raw.replaceChildren(
        el('p', 'Rules nested deeper than one group are kept as they are (edit them with the CLI):', 'hint'),
        el('pre', JSON.stringify(condition, null, 2)),
        over,
      );
      raw.hidden = false;
      add.hidden = true;
      return changed();
    }
    match.value = group ?? 'all';
    for (const leaf of leaves) addRow(leaf);
    changed();
  }

  return {
    set: setCondition,
    /** The condition the rows say: a leaf alone, a group of two or more, or none. */
    condition() {
      if (kept !== undefined) return kept;
      const leaves = rows.map((row) => row.leaf());
      if (leaves.length === 0) return undefined;
      if (leaves.length === 1) return leaves[0];
      return { [match.value]: leaves };
    },
    /** The fields changed (another trigger event): each row offers the new ones, keeping its own. */
    refresh() {
      for (const row of rows) {
        row.refill?.();
        row.refreshOps();
      }
    },
    clearErrors() {
      groupError.textContent = '';
      for (const row of rows) {
        row.error.textContent = '';
        for (const control of Object.values(row.controls)) control.removeAttribute('aria-invalid');
      }
    },
    /** A problem under this list (`rest`: its path after the list's, e.g. `all[1].value`), on the row it names. */
    place(rest, message) {
      const match = /^(?:(?:all|any)\[(\d+)\])?\.?(field|op|value)?/.exec(rest);
      const row = rows[match?.[1] === undefined ? 0 : Number(match[1])];
      if (!row || (rows.length > 1 && match?.[1] === undefined) || kept !== undefined) {
        groupError.textContent = rest ? `${rest}: ${message}` : message;
        return;
      }
      const part = match?.[2] ?? 'field';
      row.error.textContent = row.error.textContent ? `${row.error.textContent}; ${message}` : message;
      const control = row.controls[part];
      (control.tagName === 'SPAN' ? control.firstChild : control).setAttribute('aria-invalid', 'true');
    },
  };
}
