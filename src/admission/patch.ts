// JSON patch building. Every operation must apply with the API server's patch library
// (evanphx/json-patch), which rejects an add under a missing parent, so parents are created
// whole where absent.
import type { Operation } from "fast-json-patch";

import { isObject } from "../object-fields.ts";
import { singleNodeOfTerm, type PreferredTerm } from "../locality/affinity.ts";

/** Escapes one JSON pointer token (RFC 6901): "~" becomes "~0", "/" becomes "~1". */
export function escapePointerToken(token: string): string {
  return token.replace(/~/g, "~0").replace(/\//g, "~1");
}

function unescapePointerToken(token: string): string {
  return token.replace(/~1/g, "/").replace(/~0/g, "~");
}

/** Joins pointer tokens into a path under a base path ("" for the document root). */
export function pointer(base: string, ...tokens: (string | number)[]): string {
  return base + tokens.map((token) => `/${escapePointerToken(String(token))}`).join("");
}

/**
 * Sets metadata.annotations[key] = value, creating metadata or the annotations map when absent
 * or null, and replacing the member when it exists.
 */
export function setAnnotationOps(
  pod: Record<string, unknown>,
  key: string,
  value: string,
): Operation[] {
  const metadata = pod["metadata"];
  if (!isObject(metadata)) {
    return [{ op: "add", path: "/metadata", value: { annotations: { [key]: value } } }];
  }
  const annotations = metadata["annotations"];
  if (!isObject(annotations)) {
    return [{ op: "add", path: "/metadata/annotations", value: { [key]: value } }];
  }
  const op = key in annotations ? "replace" : "add";
  return [{ op, path: pointer("", "metadata", "annotations", key), value }];
}

/**
 * Appends preferred node affinity terms, touching nothing else in spec.affinity: the deepest
 * existing level gets one add, so podAffinity, podAntiAffinity and required terms stay as written.
 */
export function appendPreferredTermsOps(
  spec: Record<string, unknown>,
  terms: PreferredTerm[],
): Operation[] {
  if (terms.length === 0) {
    return [];
  }
  const affinity = spec["affinity"];
  if (!isObject(affinity)) {
    return [{ op: "add", path: "/spec/affinity", value: { nodeAffinity: preferred(terms) } }];
  }
  const nodeAffinity = affinity["nodeAffinity"];
  if (!isObject(nodeAffinity)) {
    return [{ op: "add", path: "/spec/affinity/nodeAffinity", value: preferred(terms) }];
  }
  const existing = nodeAffinity[PREFERRED];
  const listPath = `/spec/affinity/nodeAffinity/${PREFERRED}`;
  if (!Array.isArray(existing)) {
    return [{ op: "add", path: listPath, value: terms }];
  }
  return terms.map((term) => ({ op: "add", path: `${listPath}/-`, value: term }));
}

const PREFERRED = "preferredDuringSchedulingIgnoredDuringExecution";

function preferred(terms: PreferredTerm[]): Record<string, unknown> {
  return { [PREFERRED]: terms };
}

/** Nodes the pod's existing preferred terms already name one at a time (our own earlier hints). */
export function nodesAlreadyPreferred(spec: Record<string, unknown>): Set<string> {
  const nodes = new Set<string>();
  const affinity = spec["affinity"];
  const nodeAffinity = isObject(affinity) ? affinity["nodeAffinity"] : undefined;
  const terms = isObject(nodeAffinity) ? nodeAffinity[PREFERRED] : undefined;
  if (Array.isArray(terms)) {
    for (const term of terms) {
      const node = singleNodeOfTerm(term);
      if (node !== undefined) {
        nodes.add(node);
      }
    }
  }
  return nodes;
}

/** Prefixes every operation's path, for a pod template inside a workload. */
export function patchUnderPath(operations: readonly Operation[], basePath: string): Operation[] {
  return operations.map((operation) => ({ ...operation, path: basePath + operation.path }));
}

/**
 * Copies the objects and arrays on each operation's path, so the patch can be applied in place
 * without changing `pod`. A deep copy would overflow the stack on a pod nested a few thousand
 * levels deep (structuredClone in Node 20 fails near 1 900 levels of objects).
 */
export function copyAlongPaths(
  pod: Record<string, unknown>,
  patch: readonly Operation[],
): Record<string, unknown> {
  const root: Record<string, unknown> = { ...pod };
  for (const operation of patch) {
    let parent: Record<string, unknown> = root;
    const tokens = operation.path.split("/").slice(1, -1).map(unescapePointerToken);
    for (const token of tokens) {
      const child = parent[token];
      if (typeof child !== "object" || child === null) {
        break;
      }
      // An array is copied as an array; its string index tokens ("0") read and write it alike.
      const copy: unknown = Array.isArray(child) ? child.slice() : { ...child };
      parent[token] = copy;
      parent = copy as Record<string, unknown>;
    }
  }
  return root;
}
