/** One column of an audit table: its name, its ClickHouse type, and what it holds for analysts. */
export type Column = { readonly name: string; readonly type: string; readonly doc: string };
