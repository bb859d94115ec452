// Label and field selectors for the API-server double, with the matching rules of the real API
// server: "!=" and "notin" also match objects that lack the key, and a missing field reads as "".
import { ApiFailure, type ResourceType } from "./apiserver-resources.ts";

/** Decides whether an object passes a request's selectors. */
export type ObjectFilter = (object: unknown) => boolean;

type LabelRequirement =
  | { readonly key: string; readonly operator: "exists" | "absent" }
  | { readonly key: string; readonly operator: "in" | "notin"; readonly values: readonly string[] };

interface FieldRequirement {
  readonly field: string;
  readonly operator: "=" | "!=";
  readonly value: string;
}

// One label requirement: "key", "!key", "key=value", "key==value", "key!=value",
// "key in (a,b)" or "key notin (a,b)". Keys may carry a DNS prefix ("example.com/tier").
const LABEL_REQUIREMENT =
  /^(?:(!)\s*([\w./-]+)|([\w./-]+)\s*(?:(==|=|!=)\s*([\w.-]*)|\s(in|notin)\s*\(([^)]*)\))?)$/;

// One field requirement: "path=value", "path==value" or "path!=value"; the value may be empty.
const FIELD_REQUIREMENT = /^([\w.]+)\s*(==|=|!=)\s*(.*)$/;

/** Builds the filter for a request's labelSelector and fieldSelector; throws ApiFailure 400. */
export function parseSelectors(
  type: ResourceType,
  labelSelector: string | null,
  fieldSelector: string | null,
): ObjectFilter {
  const labels = parseLabelSelector(labelSelector ?? "");
  const fields = parseFieldSelector(type, fieldSelector ?? "");
  return (object) => matchesLabels(labels, object) && matchesFields(fields, object);
}

function parseLabelSelector(text: string): LabelRequirement[] {
  return splitOutsideParentheses(text).map((part) => {
    const match = LABEL_REQUIREMENT.exec(part);
    if (match === null) {
      throw new ApiFailure("BadRequest", `unable to parse requirement: ${JSON.stringify(part)}`);
    }
    const [, negated, absentKey, key = "", equality, value = "", setOperator, list = ""] = match;
    if (negated !== undefined) {
      return { key: absentKey ?? "", operator: "absent" };
    }
    if (equality !== undefined) {
      return { key, operator: equality === "!=" ? "notin" : "in", values: [value] };
    }
    if (setOperator === "in" || setOperator === "notin") {
      const values = list.split(",").map((item) => item.trim());
      return { key, operator: setOperator, values };
    }
    return { key, operator: "exists" };
  });
}

function parseFieldSelector(type: ResourceType, text: string): FieldRequirement[] {
  const allowed = new Set(["metadata.name", "metadata.namespace", ...type.fieldLabels]);
  return splitOutsideParentheses(text).map((part) => {
    const match = FIELD_REQUIREMENT.exec(part);
    if (match === null) {
      throw new ApiFailure("BadRequest", `invalid field selector: ${JSON.stringify(part)}`);
    }
    const [, field = "", operator, value = ""] = match;
    if (!allowed.has(field)) {
      throw new ApiFailure(
        "BadRequest",
        `field label not supported: ${field}; ${type.name} support ${[...allowed].join(", ")}`,
      );
    }
    return { field, operator: operator === "!=" ? "!=" : "=", value: value.trim() };
  });
}

/** Splits on commas that are not inside "(...)"; empty parts are dropped. */
function splitOutsideParentheses(text: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let current = "";
  for (const character of text) {
    if (character === "," && depth === 0) {
      parts.push(current);
      current = "";
      continue;
    }
    if (character === "(") {
      depth += 1;
    } else if (character === ")") {
      depth -= 1;
    }
    current += character;
  }
  parts.push(current);
  return parts.map((part) => part.trim()).filter((part) => part !== "");
}

function matchesLabels(requirements: readonly LabelRequirement[], object: unknown): boolean {
  const labels = recordAt(object, ["metadata", "labels"]);
  return requirements.every((requirement) => {
    const value = labels[requirement.key];
    switch (requirement.operator) {
      case "exists":
        return value !== undefined;
      case "absent":
        return value === undefined;
      case "in":
        return value !== undefined && requirement.values.includes(value);
      case "notin":
        return value === undefined || !requirement.values.includes(value);
    }
  });
}

function matchesFields(requirements: readonly FieldRequirement[], object: unknown): boolean {
  return requirements.every((requirement) => {
    const value = fieldValue(object, requirement.field.split("."));
    return requirement.operator === "=" ? value === requirement.value : value !== requirement.value;
  });
}

/** Reads a field as the API server compares it: strings as they are, booleans as "true" or "false". */
function fieldValue(object: unknown, path: readonly string[]): string {
  const value = valueAt(object, path);
  if (typeof value === "string") {
    return value;
  }
  return typeof value === "boolean" ? String(value) : "";
}

function recordAt(object: unknown, path: readonly string[]): Record<string, string> {
  const value = valueAt(object, path);
  const record: Record<string, string> = {};
  if (typeof value === "object" && value !== null) {
    for (const [key, item] of Object.entries(value)) {
      if (typeof item === "string") {
        record[key] = item;
      }
    }
  }
  return record;
}

function valueAt(object: unknown, path: readonly string[]): unknown {
  let current = object;
  for (const key of path) {
    current =
      typeof current === "object" && current !== null
        ? (current as Record<string, unknown>)[key]
        : undefined;
  }
  return current;
}
