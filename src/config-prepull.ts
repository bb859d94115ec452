// Reader for the `prepull:` section: the cold-image record and the pre-pull controller.
import { isObject, reportUnknownKeys, typeName, type Raw } from "./config-readers.ts";
import { parseImageReference } from "./image/reference.ts";
import {
  checkPrepullSettings,
  DEFAULT_PREPULL_SETTINGS,
  prepullSettings,
  type PrepullPolicy,
  type PrepullSettings,
} from "./prepull/settings.ts";

const STRING_KEYS = ["helperImage", "helperBinaryPath"] as const;

/** Reads the section over the defaults; every problem is appended with its field path. */
export function readPrepull(section: Raw, problems: string[]): PrepullSettings {
  reportUnknownKeys(section, Object.keys(DEFAULT_PREPULL_SETTINGS), "prepull", problems);
  const overrides: Record<string, unknown> = {};
  for (const [key, fallback] of Object.entries(DEFAULT_PREPULL_SETTINGS)) {
    const value = section[key];
    if (value === undefined || value === null || key === "policy" || key === "nodeSelector") {
      continue;
    }
    if (typeof value !== typeof fallback) {
      problems.push(`prepull.${key}: must be a ${typeof fallback}, got ${typeName(value)}`);
      continue;
    }
    if (!(STRING_KEYS as readonly string[]).includes(key) && !Number.isFinite(value)) {
      problems.push(`prepull.${key}: must be a finite number, got ${typeName(value)}`);
      continue;
    }
    overrides[key] = value;
  }
  const policy = readPolicy(section["policy"], problems);
  const nodeSelector = readSelector(section["nodeSelector"], problems);
  const settings = prepullSettings({
    ...(overrides as Partial<PrepullSettings>),
    ...(policy === undefined ? {} : { policy }),
    ...(nodeSelector === undefined ? {} : { nodeSelector }),
  });
  problems.push(...checkPrepullSettings(settings));
  if (settings.helperImage !== "" && !parseImageReference(settings.helperImage).ok) {
    problems.push(
      `prepull.helperImage: "${settings.helperImage}" is not a valid image reference; name this project's image, such as registry.example.com/kube-image-cache:0.1.0`,
    );
  }
  return settings;
}

/** `all`, or `{mostSpare: N}`: keep the image on the N eligible nodes with the most room. */
function readPolicy(value: unknown, problems: string[]): PrepullPolicy | undefined {
  if (value === undefined || value === null) {
    return undefined;
  }
  if (value === "all") {
    return { kind: "all" };
  }
  const count = isObject(value) ? value["mostSpare"] : undefined;
  if (isObject(value) && Object.keys(value).length === 1 && typeof count === "number") {
    return { kind: "mostSpare", count };
  }
  problems.push(`prepull.policy: must be "all" or {mostSpare: N}, got ${typeName(value)}`);
  return undefined;
}

function readSelector(value: unknown, problems: string[]): Record<string, string> | undefined {
  if (value === undefined || value === null) {
    return undefined;
  }
  if (!isObject(value) || Object.values(value).some((item) => typeof item !== "string")) {
    problems.push(`prepull.nodeSelector: must map label names to strings, got ${typeName(value)}`);
    return undefined;
  }
  return value as Record<string, string>;
}
