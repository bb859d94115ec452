// Readers for configuration fields: each reads one value of an untrusted parsed document, falls
// back to its default, and appends a problem naming the field path when the value is invalid.
import { parseImageReference } from "./image/reference.ts";

export type Raw = Record<string, unknown>;

/** Limits and default of a numeric setting. */
export interface NumberSetting {
  readonly fallback: number;
  readonly min: number;
  readonly max: number;
  /** True when only whole numbers are valid. */
  readonly integer: boolean;
}

export function isObject(value: unknown): value is Raw {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Describes a value for a problem message: its type, and the value itself when short. */
export function typeName(value: unknown): string {
  if (value === null) {
    return "null";
  }
  if (Array.isArray(value)) {
    return "a list";
  }
  // JSON.stringify writes Infinity and NaN as null, which would misreport them.
  const shown = typeof value === "number" ? String(value) : JSON.stringify(value);
  const article = typeof value === "object" || typeof value === "undefined" ? "an" : "a";
  return `${article} ${typeof value} (${shown})`;
}

/** Reads a nested mapping; absent or null gives an empty one. */
export function section(raw: Raw, key: string, path: string, problems: string[]): Raw {
  const value = raw[key];
  if (value === undefined || value === null) {
    return {};
  }
  if (!isObject(value)) {
    problems.push(`${path}: must be a mapping, got ${typeName(value)}`);
    return {};
  }
  return value;
}

export function reportUnknownKeys(
  raw: Raw,
  known: readonly string[],
  parent: string,
  problems: string[],
): void {
  for (const key of Object.keys(raw)) {
    if (!known.includes(key)) {
      const path = parent === "" ? key : `${parent}.${key}`;
      problems.push(`${path}: unknown setting; expected one of ${known.join(", ")}`);
    }
  }
}

export function stringList(
  raw: Raw,
  key: string,
  parent: string,
  fallback: readonly string[],
  problems: string[],
): string[] {
  const value = raw[key];
  if (value === undefined || value === null) {
    return [...fallback];
  }
  if (!Array.isArray(value)) {
    problems.push(`${parent}.${key}: must be a list of strings, got ${typeName(value)}`);
    return [...fallback];
  }
  const strings: string[] = [];
  value.forEach((item: unknown, index) => {
    if (typeof item === "string" && item !== "") {
      strings.push(item);
    } else {
      problems.push(
        `${parent}.${key}[${index}]: must be a non-empty string, got ${typeName(item)}`,
      );
    }
  });
  return strings;
}

export function numberField(
  raw: Raw,
  key: string,
  parent: string,
  setting: NumberSetting,
  problems: string[],
): number {
  const value = raw[key];
  if (value === undefined || value === null) {
    return setting.fallback;
  }
  const valid =
    typeof value === "number" &&
    Number.isFinite(value) &&
    (!setting.integer || Number.isInteger(value)) &&
    value >= setting.min &&
    value <= setting.max;
  if (!valid) {
    const kind = setting.integer ? "an integer" : "a number";
    problems.push(
      `${parent}.${key}: must be ${kind} from ${setting.min} to ${setting.max}, got ${JSON.stringify(value)}`,
    );
    return setting.fallback;
  }
  return value;
}

export function booleanField(
  raw: Raw,
  key: string,
  parent: string,
  fallback: boolean,
  problems: string[],
): boolean {
  const value = raw[key];
  if (value === undefined || value === null) {
    return fallback;
  }
  if (typeof value !== "boolean") {
    problems.push(`${parent}.${key}: must be true or false, got ${typeName(value)}`);
    return fallback;
  }
  return value;
}

/**
 * Folds the legacy Docker Hub host into docker.io, as image references are folded, and lowers
 * the case: host names are case-insensitive, and images are matched to rules in lowercase.
 */
export function normaliseHost(host: string): string {
  const lower = host.toLowerCase();
  return lower === "index.docker.io" ? "docker.io" : lower;
}

/** Returns why a string is not a registry host (name or IP, optional port), or undefined. */
export function checkRegistryHost(host: string): string | undefined {
  const parsed = parseImageReference(`${host}/probe`);
  if (!parsed.ok || normaliseHost(parsed.reference.domain) !== normaliseHost(host)) {
    return `"${host}" is not a registry host; expected a host name with an optional port, such as "docker.io" or "registry.example.net:5000"`;
  }
  return undefined;
}

/** Returns why a value is not a mirror prefix "<host>/<path>", or undefined. */
export function checkMirrorPrefix(target: unknown): string | undefined {
  if (typeof target !== "string") {
    return `mirror prefix must be a string, got ${typeName(target)}`;
  }
  const trimmed = target.replace(/\/+$/, "");
  const parsed = parseImageReference(`${trimmed}/probe`);
  const slash = trimmed.indexOf("/");
  if (!parsed.ok || slash < 0 || parsed.reference.domain !== trimmed.slice(0, slash)) {
    return `target "${target}" is not a mirror repository prefix; expected "<host>/<path>", such as "registry.example.com/dockerhub"`;
  }
  return undefined;
}

/** Freezes an object graph; Maps are left as they are but typed read-only by their owners. */
export function deepFreeze<T>(value: T): T {
  if (typeof value === "object" && value !== null && !(value instanceof Map)) {
    for (const child of Object.values(value)) {
      deepFreeze(child);
    }
    Object.freeze(value);
  }
  return value;
}
