// Structural mutations of JSON documents. A field anywhere in the tree is replaced by a value
// of the wrong type, null, a huge or odd string or deep nesting, or it is deleted, duplicated
// or wrapped.
import fc from "fast-check";

/**
 * Nesting depth of the deepest generated value, past the ~1 900 levels at which Node 20's
 * structuredClone overflows. A document gets at most one such value, because Node 20's
 * JSON.stringify, which the fuzzer sends with, overflows its stack near 4 100 levels. Go's
 * encoding/json (API server, apiserver-jsonpatch) rejects documents deeper than 10 000 levels.
 */
export const MAX_NESTING = 2400;

/** Values built by `nested`, so a document receives at most one of them. */
const DEEP_VALUES = new WeakSet<object>();

/** Copies a JSON value. Unlike structuredClone, which overflows near 1 900 levels, it handles
 * MAX_NESTING. */
export function jsonClone<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}

/** Builds `depth` levels of nested arrays or objects around a string. */
export function nested(depth: number, shape: "array" | "object"): unknown {
  let value: unknown = "bottom";
  for (let level = 0; level < depth; level += 1) {
    value = shape === "array" ? [value] : { a: value };
  }
  DEEP_VALUES.add(value as object);
  return value;
}

/** Values of every JSON type and size, to put where a field of another type belongs. */
export const wrongValue: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(null, true, false, 0, -1, 1e308, 0.5, "", "x", {}, []) },
  { weight: 3, arbitrary: fc.jsonValue({ maxDepth: 2 }) },
  { weight: 2, arbitrary: fc.string({ unit: "binary", maxLength: 20 }) },
  {
    weight: 1,
    arbitrary: fc
      .tuple(fc.integer({ min: 100, max: MAX_NESTING }), fc.constantFrom("array", "object"))
      .map(([depth, shape]) => nested(depth, shape)),
  },
  {
    weight: 1,
    arbitrary: fc
      .tuple(fc.constantFrom("a", "é", "\ud83d", "\u0000"), fc.integer({ min: 1000, max: 200_000 }))
      .map(([unit, length]) => unit.repeat(length)),
  },
);

type Mutation =
  | { readonly kind: "replace"; readonly at: number; readonly value: unknown }
  | { readonly kind: "delete" | "duplicate" | "wrap" | "stringify"; readonly at: number };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({ kind: fc.constant("replace"), at: fc.nat(), value: wrongValue }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constantFrom("delete", "duplicate", "wrap", "stringify"),
      at: fc.nat(),
    }),
  },
);

/** Applies one to three mutations to a copy of each document `base` generates. */
export function mutated(base: fc.Arbitrary<unknown>): fc.Arbitrary<unknown> {
  return fc
    .tuple(base, fc.array(mutation, { minLength: 1, maxLength: 3 }))
    .map(([document, mutations]) => {
      const copy = { root: jsonClone(document) };
      let deepValues = 0;
      for (const change of mutations) {
        const deep = change.kind === "replace" && isDeep(change.value);
        if (!deep || deepValues === 0) {
          applyMutation(copy, change);
          deepValues += deep ? 1 : 0;
        }
      }
      return copy.root;
    });
}

function isDeep(value: unknown): boolean {
  return typeof value === "object" && value !== null && DEEP_VALUES.has(value);
}

interface Slot {
  readonly parent: Record<string, unknown> | unknown[];
  readonly key: string | number;
}

/** Lists every member and element under `holder.root`, parents before children. */
function slots(holder: { root: unknown }): Slot[] {
  const found: Slot[] = [];
  const stack: Slot[] = [{ parent: holder, key: "root" }];
  while (stack.length > 0 && found.length < 5000) {
    const slot = stack.pop() as Slot;
    found.push(slot);
    const value = (slot.parent as Record<string | number, unknown>)[slot.key];
    if (Array.isArray(value)) {
      value.forEach((_, index) => stack.push({ parent: value, key: index }));
    } else if (typeof value === "object" && value !== null) {
      Object.keys(value).forEach((key) => stack.push({ parent: value as never, key }));
    }
  }
  return found;
}

function applyMutation(holder: { root: unknown }, change: Mutation): void {
  const all = slots(holder);
  const slot = all[change.at % all.length] as Slot;
  const parent = slot.parent as Record<string | number, unknown>;
  const current = parent[slot.key];

  switch (change.kind) {
    case "replace":
      parent[slot.key] = change.value;
      return;
    case "wrap":
      parent[slot.key] = [current];
      return;
    case "stringify":
      parent[slot.key] = JSON.stringify(current) ?? "undefined";
      return;
    case "delete":
      deleteSlot(slot, holder);
      return;
    case "duplicate":
      duplicateSlot(slot, current);
      return;
  }
}

function deleteSlot(slot: Slot, holder: { root: unknown }): void {
  if (slot.parent === holder) {
    holder.root = undefined;
  } else if (Array.isArray(slot.parent)) {
    slot.parent.splice(slot.key as number, 1);
  } else {
    delete slot.parent[slot.key as string];
  }
}

/** Repeats an array element (two containers of one name) or copies a member under a new key. */
function duplicateSlot(slot: Slot, current: unknown): void {
  if (Array.isArray(slot.parent)) {
    slot.parent.splice(slot.key as number, 0, jsonClone(current));
  } else if (typeof slot.key === "string" && slot.key !== "root") {
    slot.parent[`${slot.key}Copy`] = jsonClone(current);
  }
}
