// Safe reads from untrusted JSON: admission requests and Node objects may have any shape.

/** True for a plain JSON object (not null, not an array). */
export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Returns value[key] when value is an object, else undefined. */
export function field(value: unknown, key: string): unknown {
  return isObject(value) ? value[key] : undefined;
}

/** Returns value[key] when it is a string, else undefined. */
export function stringField(value: unknown, key: string): string | undefined {
  const found = field(value, key);
  return typeof found === "string" ? found : undefined;
}

/**
 * Returns the string-valued members of an object; other members and non-objects are dropped.
 * The record has no prototype, so keys such as "constructor" read as absent, not as functions.
 */
export function stringRecord(value: unknown): Record<string, string> {
  const record = Object.create(null) as Record<string, string>;
  if (isObject(value)) {
    for (const [key, item] of Object.entries(value)) {
      if (typeof item === "string") {
        record[key] = item;
      }
    }
  }
  return record;
}

/** Returns value[key] when it is an array, else an empty array. */
export function arrayField(value: unknown, key: string): unknown[] {
  const found = field(value, key);
  return Array.isArray(found) ? found : [];
}
