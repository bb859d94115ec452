// Platforms of images: reading them from image configs and index entries, and choosing the
// entry a node of a given OS and architecture would pull.
import type { Platform } from "../locality/layers.ts";

// Variant spellings that mean the same CPU, as containerd's platforms package normalises them
// (github.com/containerd/platforms, database.go). The arm64 variants "8", "v8" and "v8.0" are the
// baseline, written as no variant, and so is amd64 "v1". A 32-bit arm platform without a variant
// is "v7", and its variants "5" to "8" gain a "v".
const BASELINE_VARIANTS: ReadonlyMap<string, readonly string[]> = new Map([
  ["arm64", ["8", "v8", "v8.0"]],
  ["amd64", ["v1"]],
]);

/**
 * Reads a platform from an object with string `os` and `architecture` fields and an optional
 * `variant`, the shape of an index entry's `platform` and of an image config. Returns undefined
 * when either required field is missing or empty.
 */
export function readPlatform(value: unknown): Platform | undefined {
  if (typeof value !== "object" || value === null) {
    return undefined;
  }
  const { os, architecture, variant } = value as Record<string, unknown>;
  if (typeof os !== "string" || os === "" || typeof architecture !== "string") {
    return undefined;
  }
  if (architecture === "") {
    return undefined;
  }
  return typeof variant === "string" && variant !== ""
    ? { os, architecture, variant }
    : { os, architecture };
}

/**
 * Picks the entry a node of platform `wanted` runs. OS and architecture must be equal, and so
 * must the variants in normal form ("arm64" is "arm64/v8"). When `wanted` names no variant, an
 * entry of another variant is taken if none has the architecture's baseline variant, because a
 * node's status reports only OS and architecture.
 */
export function selectForPlatform<T extends { readonly platform: Platform }>(
  entries: readonly T[],
  wanted: Platform,
): T | undefined {
  const sameArchitecture = entries.filter(
    (entry) =>
      entry.platform.os === wanted.os && entry.platform.architecture === wanted.architecture,
  );
  const variant = normalizedVariant(wanted);
  const exact = sameArchitecture.find((entry) => normalizedVariant(entry.platform) === variant);
  if (wanted.variant !== undefined) {
    return exact;
  }
  return exact ?? sameArchitecture[0];
}

/** Returns the variant in containerd's normal form, "" for an architecture's baseline. */
function normalizedVariant(platform: Platform): string {
  const variant = platform.variant ?? "";
  if (BASELINE_VARIANTS.get(platform.architecture)?.includes(variant) === true) {
    return "";
  }
  if (platform.architecture === "arm") {
    if (variant === "") {
      return "v7";
    }
    return /^[5-8]$/.test(variant) ? `v${variant}` : variant;
  }
  return variant;
}
