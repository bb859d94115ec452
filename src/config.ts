// Configuration: the file format, its defaults, and validation that reports every problem with
// its field path before anything starts. The only module that reads process.env.
import { readFileSync } from "node:fs";

import { parse as parseYaml } from "yaml";

import { parseImageReference } from "./image/reference.ts";

/** The validated, frozen configuration every component receives. */
export interface Config {
  readonly mirror: {
    /** Normalised source registry host -> mirror repository prefix ("host/path"). */
    readonly registries: ReadonlyMap<string, string>;
    /** Prefix for registries without their own rule; undefined leaves them unchanged. */
    readonly default?: string;
  };
  readonly exclude: {
    /** Namespaces whose pods are never mutated. */
    readonly namespaces: readonly string[];
    /** Globs over the normalised image reference; matching images are left unchanged. */
    readonly images: readonly string[];
  };
  readonly webhook: {
    /** The webhook's own namespace, always excluded so it can never block its own pods. */
    readonly namespace: string;
  };
  readonly affinity: {
    /** Maximum number of preferred node terms added to one pod. */
    readonly maxPreferredNodes: number;
  };
  readonly server: {
    /** Internal deadline for one admission in milliseconds; past it the pod is admitted unchanged. */
    readonly deadlineMs: number;
    /** Largest request body accepted, in bytes; larger bodies get 413. */
    readonly maxBodyBytes: number;
  };
}

/** Default values, documented in docs/configuration.md. */
export const DEFAULTS = {
  excludeNamespaces: ["kube-system"],
  webhookNamespace: "kube-image-cache",
  maxPreferredNodes: 10,
  // The API server's default webhook timeout is 10 s and our manifests set 5 s; answering within
  // 2 s leaves room for the TLS round trip.
  deadlineMs: 2000,
  // The API server accepts request bodies up to 3 MiB, and an UPDATE review carries the object
  // twice (object and oldObject), so 8 MiB admits every review the API server can send.
  maxBodyBytes: 8 * 1024 * 1024,
} as const;

/** Raised when a configuration file is unreadable or invalid; lists every problem found. */
export class InvalidConfigError extends Error {
  constructor(
    readonly source: string,
    readonly problems: readonly string[],
  ) {
    super(`invalid configuration ${source}:\n  - ${problems.join("\n  - ")}`);
    this.name = "InvalidConfigError";
  }
}

type Raw = Record<string, unknown>;

const TOP_LEVEL_KEYS = ["mirror", "exclude", "webhook", "affinity", "server"];

/** Reads a YAML or JSON configuration file and validates it. */
export function loadConfig(path: string): Config {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error: unknown) {
    throw new InvalidConfigError(path, [`cannot read file: ${describe(error)}`]);
  }
  return parseConfigText(text, path);
}

/** Parses configuration text (YAML, which includes JSON) and validates it. */
export function parseConfigText(text: string, source: string): Config {
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (error: unknown) {
    throw new InvalidConfigError(source, [`not valid YAML or JSON: ${describe(error)}`]);
  }
  return validateConfig(raw ?? {}, source);
}

/** Validates a parsed configuration object; throws InvalidConfigError listing every problem. */
export function validateConfig(raw: unknown, source: string): Config {
  const problems: string[] = [];
  if (!isObject(raw)) {
    throw new InvalidConfigError(source, [`top level must be a mapping, got ${typeName(raw)}`]);
  }
  reportUnknownKeys(raw, TOP_LEVEL_KEYS, "", problems);

  const mirror = section(raw, "mirror", problems);
  reportUnknownKeys(mirror, ["registries", "default"], "mirror", problems);
  const exclude = section(raw, "exclude", problems);
  reportUnknownKeys(exclude, ["namespaces", "images"], "exclude", problems);
  const webhook = section(raw, "webhook", problems);
  reportUnknownKeys(webhook, ["namespace"], "webhook", problems);
  const affinity = section(raw, "affinity", problems);
  reportUnknownKeys(affinity, ["maxPreferredNodes"], "affinity", problems);
  const server = section(raw, "server", problems);
  reportUnknownKeys(server, ["deadlineMs", "maxBodyBytes"], "server", problems);

  const config: Config = {
    mirror: readMirror(mirror, problems),
    exclude: {
      namespaces: stringList(
        exclude,
        "namespaces",
        "exclude",
        DEFAULTS.excludeNamespaces,
        problems,
      ),
      images: stringList(exclude, "images", "exclude", [], problems),
    },
    webhook: {
      namespace: readNamespace(webhook, problems),
    },
    affinity: {
      maxPreferredNodes: integer(
        affinity,
        "maxPreferredNodes",
        "affinity",
        {
          fallback: DEFAULTS.maxPreferredNodes,
          min: 0,
          max: 100,
        },
        problems,
      ),
    },
    server: {
      deadlineMs: integer(
        server,
        "deadlineMs",
        "server",
        {
          fallback: DEFAULTS.deadlineMs,
          min: 1,
          max: 30_000,
        },
        problems,
      ),
      maxBodyBytes: integer(
        server,
        "maxBodyBytes",
        "server",
        {
          fallback: DEFAULTS.maxBodyBytes,
          min: 1024,
          max: 64 * 1024 * 1024,
        },
        problems,
      ),
    },
  };

  if (problems.length > 0) {
    throw new InvalidConfigError(source, problems);
  }
  return deepFreeze(config);
}

/** The configuration used when no file is given: nothing is rewritten, hints still work. */
export function defaultConfig(): Config {
  return validateConfig({}, "built-in defaults");
}

function readMirror(mirror: Raw, problems: string[]): Config["mirror"] {
  const registries = new Map<string, string>();
  const rawRegistries = mirror["registries"];
  if (rawRegistries !== undefined && rawRegistries !== null && !isObject(rawRegistries)) {
    problems.push(
      `mirror.registries: must be a mapping of registry host to mirror prefix, got ${typeName(rawRegistries)}`,
    );
  }
  if (isObject(rawRegistries)) {
    for (const [host, target] of Object.entries(rawRegistries)) {
      const field = `mirror.registries["${host}"]`;
      const hostProblem = checkRegistryHost(host);
      if (hostProblem !== undefined) {
        problems.push(`${field}: ${hostProblem}`);
        continue;
      }
      const prefixProblem = checkMirrorPrefix(target);
      if (prefixProblem !== undefined) {
        problems.push(`${field}: ${prefixProblem}`);
        continue;
      }
      registries.set(normaliseHost(host), (target as string).replace(/\/+$/, ""));
    }
  }

  const fallback = mirror["default"];
  if (fallback === undefined || fallback === null || fallback === "") {
    return { registries };
  }
  const prefixProblem = checkMirrorPrefix(fallback);
  if (prefixProblem !== undefined) {
    problems.push(`mirror.default: ${prefixProblem}`);
    return { registries };
  }
  return { registries, default: (fallback as string).replace(/\/+$/, "") };
}

/** Folds the legacy Docker Hub hosts into docker.io, as image references are folded. */
function normaliseHost(host: string): string {
  return host === "index.docker.io" ? "docker.io" : host;
}

function checkRegistryHost(host: string): string | undefined {
  const parsed = parseImageReference(`${host}/probe`);
  if (!parsed.ok || parsed.reference.domain !== normaliseHost(host)) {
    return `"${host}" is not a registry host; expected a host name with an optional port, such as "docker.io" or "registry.example.net:5000"`;
  }
  return undefined;
}

function checkMirrorPrefix(target: unknown): string | undefined {
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

function readNamespace(webhook: Raw, problems: string[]): string {
  const value = webhook["namespace"];
  if (value === undefined || value === null) {
    return DEFAULTS.webhookNamespace;
  }
  if (typeof value !== "string" || !/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/.test(value)) {
    problems.push(
      `webhook.namespace: ${JSON.stringify(value)} is not a valid namespace name (lowercase DNS label, at most 63 characters)`,
    );
    return DEFAULTS.webhookNamespace;
  }
  return value;
}

function section(raw: Raw, key: string, problems: string[]): Raw {
  const value = raw[key];
  if (value === undefined || value === null) {
    return {};
  }
  if (!isObject(value)) {
    problems.push(`${key}: must be a mapping, got ${typeName(value)}`);
    return {};
  }
  return value;
}

function stringList(
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

function integer(
  raw: Raw,
  key: string,
  parent: string,
  limits: { fallback: number; min: number; max: number },
  problems: string[],
): number {
  const value = raw[key];
  if (value === undefined || value === null) {
    return limits.fallback;
  }
  if (
    typeof value !== "number" ||
    !Number.isInteger(value) ||
    value < limits.min ||
    value > limits.max
  ) {
    problems.push(
      `${parent}.${key}: must be an integer from ${limits.min} to ${limits.max}, got ${JSON.stringify(value)}`,
    );
    return limits.fallback;
  }
  return value;
}

function reportUnknownKeys(
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

function isObject(value: unknown): value is Raw {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function typeName(value: unknown): string {
  if (value === null) {
    return "null";
  }
  return Array.isArray(value) ? "a list" : `a ${typeof value} (${JSON.stringify(value)})`;
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function deepFreeze<T>(value: T): T {
  if (typeof value === "object" && value !== null && !(value instanceof Map)) {
    for (const child of Object.values(value)) {
      deepFreeze(child);
    }
    Object.freeze(value);
  }
  return value;
}

/** Environment settings: the log level, read once at start. */
export function readLogLevel(): string {
  return process.env["LOG_LEVEL"] ?? "info";
}
