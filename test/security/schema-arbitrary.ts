import fc from 'fast-check';
import { isRecord } from '../api/api-helpers.ts';

/**
 * Values for a JSON schema of the OpenAPI document: mostly what the schema allows (so requests
 * get past validation and reach the handlers), with `hints` by property name for values that
 * mean something to this API (an existing message, a user with decisions, a time inside the
 * recorded traffic). Recursive schemas (conditions) stop growing past `MAX_DEPTH`.
 */
export type Hints = Readonly<Record<string, fc.Arbitrary<unknown>>>;

const MAX_DEPTH = 4;
const MAX_ITEMS = 3;
const SAFE = Number.MAX_SAFE_INTEGER;

export class SchemaArbitraries {
  private readonly cache = new Map<unknown, fc.Arbitrary<unknown>>();

  constructor(
    private readonly schemas: Record<string, unknown>,
    private readonly hints: Hints,
  ) {}

  /** A value for `schema`; `name` is the property or parameter it is for (for the hints). */
  of(schema: unknown, name?: string, depth = 0): fc.Arbitrary<unknown> {
    const hint = name === undefined ? undefined : this.hints[name];
    const plain = this.plain(schema, depth);
    return hint === undefined
      ? plain
      : fc.oneof({ weight: 3, arbitrary: hint }, { weight: 1, arbitrary: plain });
  }

  private plain(schema: unknown, depth: number): fc.Arbitrary<unknown> {
    if (!isRecord(schema) || Object.keys(schema).length === 0) return fc.jsonValue({ maxDepth: 2 });
    const cached = depth === 0 ? this.cache.get(schema) : undefined;
    if (cached !== undefined) return cached;
    const arbitrary = this.build(schema, depth);
    if (depth === 0) this.cache.set(schema, arbitrary);
    return arbitrary;
  }

  private build(schema: Record<string, unknown>, depth: number): fc.Arbitrary<unknown> {
    const ref = schema['$ref'];
    if (typeof ref === 'string') return this.plain(this.resolve(ref), depth + 1);
    const nullable = schema['nullable'] === true;
    const base = this.nonNull(schema, depth);
    return nullable
      ? fc.oneof({ weight: 4, arbitrary: base }, { weight: 1, arbitrary: fc.constant(null) })
      : base;
  }

  private nonNull(schema: Record<string, unknown>, depth: number): fc.Arbitrary<unknown> {
    const alternatives = (['anyOf', 'oneOf', 'allOf'] as const)
      .map((k) => schema[k])
      .find((v): v is unknown[] => Array.isArray(v));
    if (alternatives !== undefined) {
      // Past the depth limit only the first alternative (a leaf condition) is taken.
      const chosen = depth >= MAX_DEPTH ? alternatives.slice(0, 1) : alternatives;
      return fc.oneof(...chosen.map((alternative) => this.plain(alternative, depth + 1)));
    }
    const values = schema['enum'];
    if (Array.isArray(values) && values.length > 0) return fc.constantFrom(...(values as unknown[]));
    if ('not' in schema) return fc.constant(undefined);
    switch (schema['type']) {
      case 'string':
        return this.string(schema);
      case 'integer': {
        const min = Math.max(numberOr(schema['minimum'], -SAFE), -SAFE);
        const max = Math.min(numberOr(schema['maximum'], SAFE), SAFE);
        const low = schema['exclusiveMinimum'] === true ? min + 1 : min;
        // Mostly small: a limit of 1e15 ms or a count of 2^53 is rarely what a handler is about.
        return fc.oneof(
          { weight: 4, arbitrary: fc.integer({ min: Math.max(low, -1_000), max: Math.min(max, 10_000) }) },
          { weight: 1, arbitrary: fc.constantFrom(low, max) },
        );
      }
      case 'number':
        return fc.double({ noNaN: true, noDefaultInfinity: true });
      case 'boolean':
        return fc.boolean();
      case 'array': {
        const minItems = numberOr(schema['minItems'], 0);
        const maxItems = Math.max(minItems, Math.min(numberOr(schema['maxItems'], MAX_ITEMS), MAX_ITEMS));
        return fc.array(this.plain(schema['items'], depth + 1), {
          minLength: minItems,
          maxLength: depth >= MAX_DEPTH ? minItems : maxItems,
        });
      }
      case 'object':
        return this.object(schema, depth);
      default:
        return fc.jsonValue({ maxDepth: 2 });
    }
  }

  private string(schema: Record<string, unknown>): fc.Arbitrary<unknown> {
    const pattern = schema['pattern'];
    if (typeof pattern === 'string') return fc.stringMatching(new RegExp(pattern));
    const minLength = numberOr(schema['minLength'], 0);
    const maxLength = Math.max(minLength, Math.min(numberOr(schema['maxLength'], 16), 16));
    return fc.string({ minLength, maxLength });
  }

  private object(schema: Record<string, unknown>, depth: number): fc.Arbitrary<unknown> {
    const properties = isRecord(schema['properties']) ? schema['properties'] : {};
    const required = new Set(Array.isArray(schema['required']) ? (schema['required'] as unknown[]) : []);
    const record = fc.record(
      Object.fromEntries(
        Object.entries(properties)
          // A property whose schema is `not: {}` (received_at) is never valid: left to the mutations.
          .filter(([, property]) => !(isRecord(property) && 'not' in property))
          .map(([key, property]) => [key, this.of(property, key, depth + 1)]),
      ),
      { requiredKeys: Object.keys(properties).filter((key) => required.has(key)) },
    );
    const additional = schema['additionalProperties'];
    if (!isRecord(additional)) return record;
    return fc
      .tuple(
        record,
        fc.dictionary(fc.string({ maxLength: 10 }), this.plain(additional, depth + 1), { maxKeys: 4 }),
      )
      .map(([fixed, extra]) => ({ ...extra, ...fixed }));
  }

  /**
   * `#/components/schemas/Name`, `#/components/schemas/__shared#/definitions/Name`, and
   * `#/components/schemas/schema0` (which the document names but keeps under `__shared`).
   */
  private resolve(ref: string): unknown {
    const name = ref.split('/').pop() ?? '';
    const shared = this.schemas['__shared'];
    const definitions = isRecord(shared) && isRecord(shared['definitions']) ? shared['definitions'] : {};
    const schema = this.schemas[name] ?? definitions[name];
    if (schema === undefined) throw new Error(`the OpenAPI document names ${ref}, which it does not have`);
    return schema;
  }
}

const numberOr = (value: unknown, fallback: number) => (typeof value === 'number' ? value : fallback);
