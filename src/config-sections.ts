// Readers for the configuration sections with structure of their own: mirror rules, registry
// access and the webhook namespace.
import {
  checkMirrorPrefix,
  checkRegistryHost,
  isObject,
  normaliseHost,
  reportUnknownKeys,
  typeName,
  type Raw,
} from "./config-readers.ts";

/** Registry access settings, keyed by registry host. */
export interface RegistryAccess {
  /** Speak plain HTTP instead of HTTPS (loopback and test registries). */
  readonly plainHTTP: boolean;
  /** Path of a kubernetes.io/dockerconfigjson file with credentials for this host. */
  readonly credentials?: string;
}

export interface MirrorRules {
  /** Normalised source registry host -> mirror repository prefix ("host/path"). */
  readonly registries: ReadonlyMap<string, string>;
  /** Prefix for registries without their own rule; undefined leaves them unchanged. */
  readonly default?: string;
}

export function readMirror(mirror: Raw, problems: string[]): MirrorRules {
  const registries = new Map<string, string>();
  const rawRegistries = mirror["registries"];
  if (rawRegistries !== undefined && rawRegistries !== null && !isObject(rawRegistries)) {
    problems.push(
      `mirror.registries: must be a mapping of registry host to mirror prefix, got ${typeName(rawRegistries)}`,
    );
  }
  if (isObject(rawRegistries)) {
    for (const [host, target] of Object.entries(rawRegistries)) {
      const problem =
        checkRegistryHost(host) ??
        checkMirrorPrefix(target) ??
        (registries.has(normaliseHost(host))
          ? `duplicates the rule for ${normaliseHost(host)}; keep one`
          : undefined);
      if (problem !== undefined) {
        problems.push(`mirror.registries["${host}"]: ${problem}`);
        continue;
      }
      registries.set(normaliseHost(host), normalisePrefix(target as string));
    }
  }

  const rules: MirrorRules = { registries, ...readDefault(mirror["default"], problems) };
  problems.push(...conflictingTargets(rules));
  return rules;
}

function readDefault(fallback: unknown, problems: string[]): { default?: string } {
  if (fallback === undefined || fallback === null || fallback === "") {
    return {};
  }
  const prefixProblem = checkMirrorPrefix(fallback);
  if (prefixProblem !== undefined) {
    problems.push(`mirror.default: ${prefixProblem}`);
    return {};
  }
  return { default: normalisePrefix(fallback as string) };
}

/**
 * Finds rules that cannot work together. A source host that is also a mirror host would never be
 * rewritten, because images on a mirror host are left alone. Nested prefixes would make two
 * sources share mirror paths ("hub" and "hub/quay": docker.io/quay/x and quay.io/x collide).
 */
function conflictingTargets(rules: MirrorRules): string[] {
  const problems: string[] = [];
  const targets = [...rules.registries.entries()].map(([host, prefix]) => ({
    field: `mirror.registries["${host}"]`,
    prefix,
  }));
  if (rules.default !== undefined) {
    targets.push({ field: "mirror.default", prefix: rules.default });
  }
  const mirrorHosts = new Set(
    targets.map((target) => target.prefix.slice(0, target.prefix.indexOf("/"))),
  );
  for (const host of rules.registries.keys()) {
    if (mirrorHosts.has(host)) {
      problems.push(
        `mirror.registries["${host}"]: ${host} is also a mirror host, and images on a mirror host are never rewritten; remove this rule or use another mirror host`,
      );
    }
  }
  for (const outer of targets) {
    for (const inner of targets) {
      if (outer !== inner && inner.prefix.startsWith(`${outer.prefix}/`)) {
        problems.push(
          `${inner.field}: prefix "${inner.prefix}" is nested under "${outer.prefix}" of ${outer.field}, so their images could share mirror paths; give each rule its own prefix`,
        );
      }
    }
  }
  return problems;
}

export function readRegistries(raw: unknown, problems: string[]): Map<string, RegistryAccess> {
  const registries = new Map<string, RegistryAccess>();
  if (raw === undefined || raw === null) {
    return registries;
  }
  if (!isObject(raw)) {
    problems.push(
      `registries: must be a mapping of registry host to access settings, got ${typeName(raw)}`,
    );
    return registries;
  }
  for (const [host, settings] of Object.entries(raw)) {
    const field = `registries["${host}"]`;
    const hostProblem = checkRegistryHost(host);
    if (hostProblem !== undefined) {
      problems.push(`${field}: ${hostProblem}`);
      continue;
    }
    if (settings !== null && !isObject(settings)) {
      problems.push(`${field}: must be a mapping, got ${typeName(settings)}`);
      continue;
    }
    if (registries.has(normaliseHost(host))) {
      problems.push(`${field}: duplicates the settings for ${normaliseHost(host)}; keep one`);
      continue;
    }
    registries.set(normaliseHost(host), readAccess(settings ?? {}, field, problems));
  }
  return registries;
}

function readAccess(access: Raw, field: string, problems: string[]): RegistryAccess {
  reportUnknownKeys(access, ["plainHTTP", "credentials"], field, problems);
  const plainHTTP = access["plainHTTP"] ?? false;
  if (typeof plainHTTP !== "boolean") {
    problems.push(`${field}.plainHTTP: must be true or false, got ${typeName(plainHTTP)}`);
  }
  const credentials = access["credentials"];
  if (credentials !== undefined && (typeof credentials !== "string" || credentials === "")) {
    problems.push(`${field}.credentials: must be a file path, got ${typeName(credentials)}`);
  }
  return {
    plainHTTP: plainHTTP === true,
    ...(typeof credentials === "string" && credentials !== "" ? { credentials } : {}),
  };
}

export function readNamespace(webhook: Raw, fallback: string, problems: string[]): string {
  const value = webhook["namespace"];
  if (value === undefined || value === null) {
    return fallback;
  }
  if (typeof value !== "string" || !/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/.test(value)) {
    problems.push(
      `webhook.namespace: ${JSON.stringify(value)} is not a valid namespace name (lowercase DNS label, at most 63 characters)`,
    );
    return fallback;
  }
  return value;
}

/**
 * Lowers the case of a prefix's host and drops trailing slashes: host names are compared without
 * case everywhere (rules, mirror hosts, registry settings), and paths keep theirs.
 */
function normalisePrefix(prefix: string): string {
  const trimmed = prefix.replace(/\/+$/, "");
  const slash = trimmed.indexOf("/");
  return trimmed.slice(0, slash).toLowerCase() + trimmed.slice(slash);
}
