/** The values a log entry may carry in `metadata`, `context` and user attributes (DESIGN §2). */
export type Scalar = string | number | boolean | null;

/** A flat object of scalars, as parsed from JSON: keys may be anything, `__proto__` included. */
export type FlatObject = Readonly<Record<string, Scalar>>;

const PROTOTYPE_KEYS = new Set(Object.getOwnPropertyNames(Object.prototype));

/** Keys such as `constructor` or `__proto__`, which a plain object answers from its prototype when it lacks them. */
export const isPrototypeKey = (key: string): boolean => PROTOTYPE_KEYS.has(key);
