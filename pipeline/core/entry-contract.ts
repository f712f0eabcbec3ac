import { z } from 'zod';
import { requiredOr } from './validation.ts';

/**
 * The shape of an entry, written once (DESIGN §2): the zod schemas that accept an entry or name
 * its problems, and the fast check that accepts the ordinary ones without zod, both built from
 * the same rules. The log's contract (`log-entry.ts`) and the HTTP API's (`api/routes/ingest/ingest.schemas.ts`) are two
 * sets of rules: the API's bounds sizes, refuses unknown keys and sets `received_at` itself.
 */
export type EntryRules = {
  /** Bounds on sizes; a bound left out is no bound (the log's contract has none). */
  readonly limits?: Partial<EntryLimits>;
  /**
   * `keep`: keys the contract does not name are allowed (the schema strips them; the fast check
   * keeps the entry as written, a `__proto__` key of a flat object included). `refuse`: they are
   * an error, and the fast check accepts only what the schema gives back unchanged.
   */
  readonly unknownKeys: 'keep' | 'refuse';
  /** `optional`: ingestion generates the id of an entry that has none. */
  readonly id: 'required' | 'optional';
  /** `refused`: ingestion sets it, and a producer that sends it is told to send `created_at`. */
  readonly receivedAt: 'required' | 'optional' | 'refused';
};

export type EntryLimits = {
  /** Characters of `id`, `name` and `user_id`. */
  readonly idLength: number;
  /** Characters of a key of `metadata`, `context` or `attributes`. */
  readonly keyLength: number;
  /** Characters of a string value of `metadata`, `context` or `attributes`. */
  readonly stringLength: number;
  /** Keys of `metadata`, `context` or `attributes`. */
  readonly keys: number;
};

type TrackField = 'id' | 'name' | 'user_id' | 'created_at' | 'metadata' | 'context';
type IdentifyField = 'id' | 'user_id' | 'attributes';
type Documented<Field extends string> = {
  /** The schema's id in an OpenAPI document (`.meta({id})`). */
  readonly id: string;
  readonly fields?: Partial<Record<Field, string>>;
};

/** What the schemas alone need: wording and documentation, which the fast check never builds. */
export type EntrySchemaOptions = {
  /** The message for a time that is not an integer of milliseconds; the log's names what came. */
  readonly timeMessage?: string;
  readonly openApi?: { readonly track: Documented<TrackField>; readonly identify: Documented<IdentifyField> };
};

/** Why a value of a flat object is not a scalar, naming a nested object or an array (DESIGN §2). */
export const notScalar = (issue: { input?: unknown }): string =>
  Array.isArray(issue.input)
    ? 'arrays are not allowed: values are strings, numbers, booleans or null'
    : typeof issue.input === 'object'
      ? 'nested objects are not allowed: values are strings, numbers, booleans or null'
      : 'values are strings, numbers, booleans or null';

const entryTypeError = (issue: { input?: unknown }): string => {
  const input = issue.input;
  if (typeof input !== 'object' || input === null || Array.isArray(input)) return 'an entry is a JSON object';
  const type = (input as { type?: unknown }).type;
  return type === undefined
    ? 'required: "track" or "identify"'
    : `unknown entry type ${JSON.stringify(type)}: use "track" or "identify"`;
};

const timeSchema = (error: Parameters<typeof z.int>[0]) =>
  z.int(error).nonnegative().max(Number.MAX_SAFE_INTEGER);
const scalarSchema = (string: z.ZodString) =>
  z.union([string, z.number(), z.boolean(), z.null()], { error: notScalar });

type IdSchema = z.ZodString;
type TimeSchema = ReturnType<typeof timeSchema>;
type FlatSchema = z.ZodRecord<z.ZodString, ReturnType<typeof scalarSchema>>;
type IdField<R extends EntryRules> = R['id'] extends 'optional' ? z.ZodOptional<IdSchema> : IdSchema;
type ReceivedAtField<R extends EntryRules> = R['receivedAt'] extends 'required'
  ? TimeSchema
  : R['receivedAt'] extends 'optional'
    ? z.ZodOptional<TimeSchema>
    : z.ZodOptional<z.ZodNever>;
type ObjectOf<R extends EntryRules, Shape extends z.core.$ZodLooseShape> = R['unknownKeys'] extends 'refuse'
  ? z.ZodObject<Shape, z.core.$strict>
  : z.ZodObject<Shape>;
type TrackSchema<R extends EntryRules> = ObjectOf<
  R,
  {
    type: z.ZodLiteral<'track'>;
    id: IdField<R>;
    name: IdSchema;
    user_id: IdSchema;
    received_at: ReceivedAtField<R>;
    created_at: z.ZodOptional<TimeSchema>;
    metadata: z.ZodOptional<FlatSchema>;
    context: z.ZodOptional<FlatSchema>;
  }
>;
type IdentifySchema<R extends EntryRules> = ObjectOf<
  R,
  {
    type: z.ZodLiteral<'identify'>;
    id: IdField<R>;
    user_id: IdSchema;
    received_at: ReceivedAtField<R>;
    attributes: FlatSchema;
  }
>;

type EntrySchema<R extends EntryRules> = z.ZodDiscriminatedUnion<[TrackSchema<R>, IdentifySchema<R>], 'type'>;
/** An entry as the schema of `rules` gives it. */
export type EntryOf<R extends EntryRules> = z.output<EntrySchema<R>>;

export type EntryContract<R extends EntryRules> = {
  /** `id`, `name`, `user_id`: a non-empty string. */
  readonly id: IdSchema;
  /** `metadata`, `context`, `attributes`: a flat object of scalars, a nested value named by its key. */
  readonly flat: FlatSchema;
  readonly track: TrackSchema<R>;
  readonly identify: IdentifySchema<R>;
  readonly entry: EntrySchema<R>;
  /** The fast check of the same rules (`entryCheck`). */
  readonly isWellFormed: (json: unknown) => json is EntryOf<R>;
};

/**
 * The schemas of an entry under `rules`, and its fast check. Build each contract once (at module
 * level): an OpenAPI id can be registered only once.
 */
export function entryContract<const R extends EntryRules>(
  rules: R,
  options: EntrySchemaOptions = {},
): EntryContract<R> {
  const limits = rules.limits ?? {};
  const openApi = options.openApi;
  const describe = <S extends z.ZodType>(schema: S, text: string | undefined): S =>
    text === undefined ? schema : schema.describe(text);
  const named = <S extends z.ZodType>(schema: S, docs: Documented<string> | undefined): S =>
    docs === undefined ? schema : schema.meta({ id: docs.id });

  let id = z.string({ error: requiredOr('expected a string') }).min(1, 'must not be empty');
  if (limits.idLength !== undefined) id = id.max(limits.idLength, `at most ${limits.idLength} characters`);

  const value =
    limits.stringLength === undefined
      ? z.string()
      : z.string().max(limits.stringLength, `strings are at most ${limits.stringLength} characters`);
  const key =
    limits.keyLength === undefined
      ? z.string()
      : z.string().max(limits.keyLength, `keys are at most ${limits.keyLength} characters`);
  let flat: FlatSchema = z.record(key, scalarSchema(value), {
    error: requiredOr('expected an object of keys to strings, numbers, booleans or null'),
  });
  const maxKeys = limits.keys;
  if (maxKeys !== undefined)
    flat = flat.refine((object) => Object.keys(object).length <= maxKeys, `at most ${maxKeys} keys`);

  const time = timeSchema({
    error: options.timeMessage ?? requiredOr('expected an integer of milliseconds since the epoch (UTC)'),
  });
  const receivedAt =
    rules.receivedAt === 'required'
      ? time
      : rules.receivedAt === 'optional'
        ? time.optional()
        : z.never({ error: 'set by ingestion; send created_at for your own time of the event' }).optional();
  const idField = () => (rules.id === 'optional' ? id.optional() : id);
  // The order of the fields is the order of the problems reported and of an OpenAPI document's
  // properties: `received_at` with the ids where the entry carries it, after `created_at` (the
  // field to send instead) where ingestion refuses it.
  const carried = rules.receivedAt !== 'refused';
  const object = rules.unknownKeys === 'refuse' ? z.strictObject : z.object;

  const docs = openApi?.track.fields ?? {};
  const track = named(
    object({
      type: z.literal('track'),
      id: describe(idField(), docs.id),
      name: describe(id, docs.name),
      user_id: describe(id, docs.user_id),
      ...(carried ? { received_at: receivedAt } : {}),
      created_at: describe(time.optional(), docs.created_at),
      ...(carried ? {} : { received_at: receivedAt }),
      metadata: describe(flat.optional(), docs.metadata),
      context: describe(flat.optional(), docs.context),
    }),
    openApi?.track,
  ) as unknown as TrackSchema<R>;

  const identifyDocs = openApi?.identify.fields ?? {};
  const identify = named(
    object({
      type: z.literal('identify'),
      id: describe(idField(), identifyDocs.id),
      user_id: describe(id, identifyDocs.user_id),
      received_at: receivedAt,
      attributes: describe(flat, identifyDocs.attributes),
    }),
    openApi?.identify,
  ) as unknown as IdentifySchema<R>;

  const entry = z.discriminatedUnion('type', [track, identify], { error: entryTypeError });
  return { id, flat, track, identify, entry, isWellFormed: entryCheck(rules) };
}

/**
 * The rules compiled for the fast check: sizes (`Infinity` where unbounded), and the keys an entry
 * may have when unknown ones are refused.
 */
type CompiledRules = {
  readonly idLength: number;
  readonly keyLength: number;
  readonly stringLength: number;
  readonly keys: number;
  readonly trackKeys: ReadonlySet<string> | undefined;
  readonly identifyKeys: ReadonlySet<string> | undefined;
  readonly idRequired: boolean;
  readonly receivedAt: EntryRules['receivedAt'];
  readonly keepsProtoKey: boolean;
};

/**
 * True when `json` is an entry the schema of `rules` accepts, checked without zod: every entry
 * read by the matcher and the replay, and each entry of an API request, passes here, and this
 * costs a tenth of a zod parse. It accepts a subset of what the schema accepts (property tests
 * hold it so); anything it refuses goes through the schema, which accepts it or names the problem.
 * Under `unknownKeys: 'refuse'` it gives the entry the schema would give; under `keep`, the entry
 * as written. Compiled once per set of rules; a check allocates nothing.
 */
export function entryCheck<R extends EntryRules>(rules: R): (json: unknown) => json is EntryOf<R> {
  const refuse = rules.unknownKeys === 'refuse';
  const named = (keys: string[]) =>
    refuse ? new Set(rules.receivedAt === 'refused' ? keys : [...keys, 'received_at']) : undefined;
  const compiled: CompiledRules = {
    idLength: rules.limits?.idLength ?? Infinity,
    keyLength: rules.limits?.keyLength ?? Infinity,
    stringLength: rules.limits?.stringLength ?? Infinity,
    keys: rules.limits?.keys ?? Infinity,
    trackKeys: named(['type', 'id', 'name', 'user_id', 'created_at', 'metadata', 'context']),
    identifyKeys: named(['type', 'id', 'user_id', 'attributes']),
    idRequired: rules.id === 'required',
    receivedAt: rules.receivedAt,
    keepsProtoKey: !refuse,
  };
  return (json: unknown): json is EntryOf<R> => isWellFormed(compiled, json);
}

function isWellFormed(rules: CompiledRules, json: unknown): boolean {
  if (!isPlainObject(json)) return false;
  const entry = json as Record<string, unknown>;
  const type = entry['type'];
  const allowed = type === 'track' ? rules.trackKeys : type === 'identify' ? rules.identifyKeys : null;
  if (allowed === null) return false;
  if (allowed !== undefined) for (const key in entry) if (!allowed.has(key)) return false;
  if (!Object.hasOwn(entry, 'type')) return false;
  const id = entry['id'];
  if (id === undefined ? rules.idRequired : !isId(id, rules.idLength)) return false;
  if (!isId(entry['user_id'], rules.idLength)) return false;
  const receivedAt = entry['received_at'];
  if (
    receivedAt === undefined
      ? rules.receivedAt === 'required'
      : rules.receivedAt === 'refused' || !isTimestamp(receivedAt)
  )
    return false;
  if (type === 'identify') return isFlat(entry['attributes'], rules);
  return (
    isId(entry['name'], rules.idLength) &&
    (entry['created_at'] === undefined || isTimestamp(entry['created_at'])) &&
    (entry['metadata'] === undefined || isFlat(entry['metadata'], rules)) &&
    (entry['context'] === undefined || isFlat(entry['context'], rules))
  );
}

const isPlainObject = (value: unknown): value is object =>
  typeof value === 'object' &&
  value !== null &&
  !Array.isArray(value) &&
  Object.getPrototypeOf(value) === Object.prototype;
const isId = (value: unknown, maxLength: number) =>
  typeof value === 'string' && value.length > 0 && value.length <= maxLength;
const isTimestamp = (value: unknown) => Number.isSafeInteger(value) && (value as number) >= 0;

function isFlat(value: unknown, rules: CompiledRules): boolean {
  if (!isPlainObject(value)) return false;
  let keys = 0;
  for (const key in value) {
    if (++keys > rules.keys || key.length > rules.keyLength) return false;
    // zod drops a "__proto__" key: a check that gives the schema's entry leaves such an object to it.
    if (key === '__proto__' && !rules.keepsProtoKey) return false;
    const item = (value as Record<string, unknown>)[key];
    if (item === null || typeof item === 'boolean') continue;
    if (typeof item === 'string') {
      if (item.length > rules.stringLength) return false;
      continue;
    }
    if (typeof item !== 'number' || !Number.isFinite(item)) return false;
  }
  return true;
}
