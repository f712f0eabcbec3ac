/**
 * The one way SQL is built for ClickHouse (DESIGN §6): 18.16 has no server-side query
 * parameters, so every value is written into the text as a literal by `literal`, and every
 * identifier comes from an allow-list pattern. A query is a `sql` template: an interpolated value
 * is quoted as a literal unless it is an `Identifier` or another `Sql` fragment, so forgetting to
 * quote is not possible.
 */

export type SqlValue = string | number | bigint | boolean | null | readonly SqlValue[];

export class Sql {
  constructor(readonly text: string) {}
  toString(): string {
    return this.text;
  }
}

export class Identifier {
  readonly text: string;
  constructor(name: string) {
    if (!/^[A-Za-z_][A-Za-z0-9_]{0,62}$/.test(name))
      throw new SqlValueError(`not an allowed identifier: ${JSON.stringify(name)}`);
    this.text = `\`${name}\``;
  }
}

/** A value that cannot be written as a literal (a lone surrogate, a non-finite number). */
export class SqlValueError extends Error {
  override readonly name = 'SqlValueError';
}

export const ident = (name: string): Identifier => new Identifier(name);

/** Trusted SQL text, for fragments assembled from allow-lists (an ORDER BY direction, say). */
export const raw = (text: string): Sql => new Sql(text);

export function sql(strings: TemplateStringsArray, ...values: readonly (SqlValue | Identifier | Sql)[]): Sql {
  let text = strings[0] ?? '';
  values.forEach((value, i) => {
    text += value instanceof Identifier || value instanceof Sql ? value.text : literal(value);
    text += strings[i + 1] ?? '';
  });
  return new Sql(text);
}

const ESCAPES: Record<string, string> = {
  '\\': '\\\\',
  "'": "\\'",
  '\n': '\\n',
  '\r': '\\r',
  '\t': '\\t',
  '\0': '\\0',
};

/**
 * A ClickHouse literal for a value: strings single-quoted with backslash escapes (other control
 * characters as `\xHH`), integers as digits, other numbers in JS's shortest round-trip form,
 * booleans as 1 and 0, null as NULL, arrays as `[…]`.
 */
export function literal(value: SqlValue): string {
  if (value === null) return 'NULL';
  if (typeof value === 'boolean') return value ? '1' : '0';
  if (typeof value === 'bigint') return value.toString();
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new SqlValueError(`not a finite number: ${value}`);
    return Object.is(value, -0) ? '0' : String(value);
  }
  if (typeof value === 'string') {
    if (!value.isWellFormed())
      throw new SqlValueError('a string with a lone surrogate cannot be stored as UTF-8');
    // eslint-disable-next-line no-control-regex -- control characters are exactly what is escaped
    return `'${value.replace(/[\\'\u0000-\u001f\u007f]/g, (c) => ESCAPES[c] ?? `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`)}'`;
  }
  return `[${value.map(literal).join(', ')}]`;
}
