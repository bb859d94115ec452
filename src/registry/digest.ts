// Content digests: "<algorithm>:<hex>" over the exact bytes a registry sends (OCI image spec,
// "Digests"). sha256 is what registries use; sha512 is the other registered algorithm.
import { createHash } from "node:crypto";

/** Matches a sha256 or sha512 digest with lowercase hex, the encodings the OCI spec registers. */
const DIGEST_PATTERN = /^(?:sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128})$/;

/** True for a well-formed sha256 or sha512 digest string. */
export function isDigest(value: unknown): value is string {
  return typeof value === "string" && DIGEST_PATTERN.test(value);
}

/** Computes the digest of `bytes` with the algorithm named by `algorithm` (default sha256). */
export function digestOf(bytes: Uint8Array, algorithm: "sha256" | "sha512" = "sha256"): string {
  return `${algorithm}:${createHash(algorithm).update(bytes).digest("hex")}`;
}

/**
 * Computes the digest of `bytes` with the algorithm of `expected`, so the two compare. Returns
 * undefined when `expected` is not a digest this module can compute.
 */
export function digestLike(bytes: Uint8Array, expected: string): string | undefined {
  if (!isDigest(expected)) {
    return undefined;
  }
  return digestOf(bytes, expected.startsWith("sha512:") ? "sha512" : "sha256");
}
