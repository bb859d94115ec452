// Configuration: the file format, its defaults, and validation that reports every problem with
// its field path before anything starts. The only module that reads process.env.
import { readFileSync } from "node:fs";

import { parse as parseYaml } from "yaml";

import {
  booleanField,
  deepFreeze,
  isObject,
  numberField,
  reportUnknownKeys,
  section,
  stringList,
  typeName,
  type NumberSetting,
  type Raw,
} from "./config-readers.ts";
import { readPrepull } from "./config-prepull.ts";
import type { PrepullSettings } from "./prepull/settings.ts";
import {
  readMirror,
  readNamespace,
  readRegistries,
  type MirrorRules,
  type RegistryAccess,
} from "./config-sections.ts";

export type { MirrorRules, RegistryAccess };

/** The validated, frozen configuration every component receives. */
export interface Config {
  readonly mirror: MirrorRules;
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
    /** Smallest share of the pod's bytes (0-1) a node must hold to be named in a hint. */
    readonly minHeldShare: number;
  };
  readonly server: {
    /** Internal deadline for one admission in milliseconds; past it the pod is admitted unchanged. */
    readonly deadlineMs: number;
    /** Largest request body accepted, in bytes; larger bodies get 413. */
    readonly maxBodyBytes: number;
  };
  /** Access settings per registry host (the mirror host for rewritten images). */
  readonly registries: ReadonlyMap<string, RegistryAccess>;
  readonly registry: {
    /** When false, no registry is contacted: hints match whole images only. */
    readonly enabled: boolean;
    /** Timeout of one registry HTTP call, in milliseconds. */
    readonly timeoutMs: number;
    /** How long one admission may wait for missing manifests; 0 reads the cache only. */
    readonly admissionBudgetMs: number;
    /** How long a tag stays resolved to a digest, in seconds. */
    readonly tagTtlSeconds: number;
    /** Upper bound of the manifest cache, in bytes of manifest JSON kept. */
    readonly manifestCacheBytes: number;
  };
  readonly mirrorHealth: {
    /** When false, mirrors are not probed and always count as available. */
    readonly enabled: boolean;
    /** Seconds between probes of each mirror's /v2/ endpoint. */
    readonly intervalSeconds: number;
    /** Consecutive failed probes after which a mirror counts as unavailable. */
    readonly failureThreshold: number;
    /** Timeout of one probe, in milliseconds. */
    readonly timeoutMs: number;
  };
  readonly balance: {
    /** When false, hints ignore node load. */
    readonly enabled: boolean;
    /**
     * A node is hinted only while its requested CPU share is at most the cluster mean plus this
     * (0.1 = ten percentage points above the mean).
     */
    readonly headroomOverMean: number;
    /**
     * A node is hinted only while its requested CPU share is also at most this quantile of the
     * feasible nodes' shares (1 turns the check off).
     */
    readonly loadQuantile: number;
    /**
     * The imbalance a hint may add per GB of the pod's image bytes the node holds: the node's
     * requested CPU share above the emptiest feasible nodes' share, times the pod's CPU request
     * over the node's allocatable CPU.
     */
    readonly imbalancePerGB: number;
    /** The quantile of the feasible nodes' requested CPU shares taken as the emptiest share. */
    readonly emptiestQuantile: number;
    /** No hints for a pod when more than this share of feasible nodes already hold its bytes. */
    readonly maxHolderShare: number;
    /** Seconds a hint counts against its node until the pod shows up as scheduled. */
    readonly inflightSeconds: number;
  };
  /** The cold-image record and the pre-pull controller. */
  readonly prepull: PrepullSettings;
}

/** Default values, documented in docs/configuration.md. */
export const DEFAULTS = {
  excludeNamespaces: ["kube-system"],
  webhookNamespace: "kube-image-cache",
  // In bench/scheduling (three generated workloads), 20 terms cut 2-10 points more start-path
  // bytes than 10, with the CPU spread still within 10 % of default scheduling. The scheduler
  // scores a sample of about half of a 500-node cluster, so with more named nodes a pod more
  // often finds one of them there.
  maxPreferredNodes: 20,
} as const;

type NumericSections = "affinity" | "server" | "registry" | "mirrorHealth";

// Numeric settings: default, range, and whether only whole numbers are valid.
const NUMBERS: { readonly [S in NumericSections]: Readonly<Record<string, NumberSetting>> } = {
  affinity: {
    maxPreferredNodes: { fallback: DEFAULTS.maxPreferredNodes, min: 0, max: 100, integer: true },
    // A node holding only a base layer saves little of the pull, yet a hint toward it outweighs
    // the scheduler's balancing scores: see docs/decisions/0006-hints-toward-the-emptiest-warm-nodes.md.
    minHeldShare: { fallback: 0.5, min: 0, max: 1, integer: false },
  },
  server: {
    // The API server's default webhook timeout is 10 s and our manifests set 5 s; responding
    // within 2 s leaves room for the TLS round trip.
    deadlineMs: { fallback: 2000, min: 1, max: 30_000, integer: true },
    // The API server accepts request bodies up to 3 MiB, and an UPDATE review carries the
    // object twice (object and oldObject), so 8 MiB admits every review it can send.
    maxBodyBytes: { fallback: 8 * 1024 * 1024, min: 1024, max: 64 * 1024 * 1024, integer: true },
  },
  registry: {
    timeoutMs: { fallback: 5000, min: 100, max: 60_000, integer: true },
    admissionBudgetMs: { fallback: 0, min: 0, max: 30_000, integer: true },
    tagTtlSeconds: { fallback: 300, min: 1, max: 86_400, integer: true },
    manifestCacheBytes: {
      fallback: 64 * 1024 * 1024,
      min: 1024 * 1024,
      max: 4 * 1024 * 1024 * 1024,
      integer: true,
    },
  },
  mirrorHealth: {
    intervalSeconds: { fallback: 10, min: 1, max: 3600, integer: true },
    failureThreshold: { fallback: 3, min: 1, max: 100, integer: true },
    timeoutMs: { fallback: 2000, min: 100, max: 60_000, integer: true },
  },
};

const BALANCE_NUMBERS: Readonly<Record<string, NumberSetting>> = {
  // In bench/scheduling the mean check alone left the spread of CPU requests 39 % above
  // default scheduling, hence the rules below.
  headroomOverMean: { fallback: 0, min: -1, max: 1, integer: false },
  // Off by default: imbalancePerGB below weighs the load a hint adds against the bytes it saves,
  // and in bench/scheduling it gave more savings at less CPU spread than any quantile tried.
  loadQuantile: { fallback: 1, min: 0, max: 1, integer: false },
  // In bench/scheduling (500 nodes, four generated workloads, 20 preferred nodes), 0.03 gave
  // 64-79 % fewer start-path bytes at +1.2 % to +9.1 % CPU spread against default scheduling.
  // With 10 preferred nodes, 0.04 and 0.05 raised the spread past +13 % on one workload.
  imbalancePerGB: { fallback: 0.03, min: 0, max: 100, integer: false },
  // 0.01 ignores the emptiest 1 % of nodes, so a single odd node, such as one whose pods the
  // node load does not see, does not hold every hint back alone.
  emptiestQuantile: { fallback: 0.01, min: 0, max: 1, integer: false },
  // "Most nodes already hold it", read as more than three quarters of the feasible nodes.
  maxHolderShare: { fallback: 0.75, min: 0, max: 1, integer: false },
  inflightSeconds: { fallback: 60, min: 0, max: 3600, integer: true },
};

const TOP_LEVEL_KEYS = [
  "mirror",
  "exclude",
  "webhook",
  "affinity",
  "server",
  "registries",
  "registry",
  "mirrorHealth",
  "balance",
  "prepull",
];

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

  const mirror = checkedSection(raw, "mirror", ["registries", "default"], problems);
  const exclude = checkedSection(raw, "exclude", ["namespaces", "images"], problems);
  const webhook = checkedSection(raw, "webhook", ["namespace"], problems);
  const balance = checkedSection(
    raw,
    "balance",
    ["enabled", ...Object.keys(BALANCE_NUMBERS)],
    problems,
  );
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
    webhook: { namespace: readNamespace(webhook, DEFAULTS.webhookNamespace, problems) },
    affinity: numbers(raw, "affinity", problems) as Config["affinity"],
    server: numbers(raw, "server", problems) as Config["server"],
    registries: readRegistries(raw["registries"], problems),
    registry: switchable(raw, "registry", problems) as Config["registry"],
    mirrorHealth: switchable(raw, "mirrorHealth", problems) as Config["mirrorHealth"],
    balance: {
      enabled: booleanField(balance, "enabled", "balance", true, problems),
      ...(readNumbers(balance, "balance", BALANCE_NUMBERS, problems) as Omit<
        Config["balance"],
        "enabled"
      >),
    },
    prepull: readPrepull(section(raw, "prepull", "prepull", problems), problems),
  };
  // The pipeline and the response need time after the wait; half a second is ample for both.
  const latestBudget = config.server.deadlineMs - 500;
  if (config.registry.admissionBudgetMs > 0 && config.registry.admissionBudgetMs > latestBudget) {
    problems.push(
      `registry.admissionBudgetMs: ${config.registry.admissionBudgetMs} must be at most server.deadlineMs - 500 (${latestBudget}), or an admission that waits would time out and lose its rewrite`,
    );
  }

  if (problems.length > 0) {
    throw new InvalidConfigError(source, problems);
  }
  return deepFreeze(config);
}

/** Returns the configuration used when no file is given: nothing is rewritten, hints still work. */
export function defaultConfig(): Config {
  return validateConfig({}, "built-in defaults");
}

function checkedSection(raw: Raw, key: string, known: readonly string[], problems: string[]): Raw {
  const value = section(raw, key, key, problems);
  reportUnknownKeys(value, known, key, problems);
  return value;
}

/** Reads a numeric section with an `enabled` switch (default true). */
function switchable(
  raw: Raw,
  key: "registry" | "mirrorHealth",
  problems: string[],
): Record<string, number | boolean> {
  const settings = NUMBERS[key];
  const section = checkedSection(raw, key, ["enabled", ...Object.keys(settings)], problems);
  return {
    enabled: booleanField(section, "enabled", key, true, problems),
    ...readNumbers(section, key, settings, problems),
  };
}

function numbers(raw: Raw, key: NumericSections, problems: string[]): Record<string, number> {
  const settings = NUMBERS[key];
  return readNumbers(
    checkedSection(raw, key, Object.keys(settings), problems),
    key,
    settings,
    problems,
  );
}

function readNumbers(
  raw: Raw,
  parent: string,
  settings: Readonly<Record<string, NumberSetting>>,
  problems: string[],
): Record<string, number> {
  const values: Record<string, number> = {};
  for (const [key, setting] of Object.entries(settings)) {
    values[key] = numberField(raw, key, parent, setting, problems);
  }
  return values;
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Environment settings: the log level, read once at start. */
export function readLogLevel(): string {
  return process.env["LOG_LEVEL"] ?? "info";
}
