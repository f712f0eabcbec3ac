/** The values a log entry may carry in `metadata`, `context` and user attributes (DESIGN §2). */
export type Scalar = string | number | boolean | null;

/** A flat object of scalars, as parsed from JSON: keys may be anything, `__proto__` included. */
export type FlatObject = Readonly<Record<string, Scalar>>;

const PROTOTYPE_KEYS = new Set(Object.getOwnPropertyNames(Object.prototype));

/** Keys such as `constructor` or `__proto__`, which a plain object answers from its prototype when it lacks them. */
export const isPrototypeKey = (key: string): boolean => PROTOTYPE_KEYS.has(key);

/**
 * A reader for one key of plain objects (parsed JSON) that never reaches the prototype chain:
 * `constructor` or `__proto__` are keys like any other. Built once per compiled field or message:
 * only keys that shadow `Object.prototype` members pay for the `hasOwn` check.
 */
export function ownKey<T>(key: string): (object: Readonly<Record<string, T>> | undefined) => T | undefined {
  if (PROTOTYPE_KEYS.has(key)) {
    return (object) => (object !== undefined && Object.hasOwn(object, key) ? object[key] : undefined);
  }
  return (object) => object?.[key];
}

/** Like `ownKey`, for scalars: `null` reads as missing, as the message language requires. */
export function ownKeyReader(
  key: string,
): (object: FlatObject | undefined) => Exclude<Scalar, null> | undefined {
  const read = ownKey<Scalar>(key);
  return (object) => read(object) ?? undefined;
}
