import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { AUDIT_TABLES } from '../pipeline/adapters/clickhouse/audit-schema.ts';
import { DECISION_FACTS } from '../pipeline/adapters/clickhouse/facts-schema.ts';

const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

describe('the README documents the audit tables for analysts', () => {
  it.each(Object.entries({ ...AUDIT_TABLES, decision_facts: DECISION_FACTS }))(
    '%s: every column, with its type',
    async (table, spec) => {
      const readme = await readFile(new URL('../README.md', import.meta.url), 'utf8');
      expect(readme).toContain(`**\`${table}\`**`);
      for (const column of spec.columns) {
        const type = column.type.replace(/ MATERIALIZED.*/, ' (materialized)');
        // Prettier pads table cells, so the spaces around a cell are free.
        expect(readme).toMatch(
          new RegExp(`\\|\\s*\`${escape(column.name)}\`\\s*\\|\\s*${escape(type)}\\s*\\|`),
        );
      }
    },
  );
});
