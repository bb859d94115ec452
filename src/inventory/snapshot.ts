// Node snapshots: a NodeList (or list of Nodes) read from a JSON or YAML file, for local runs,
// dry-run and tests, in place of a live cluster.
import { readFileSync } from "node:fs";

import { parse as parseYaml } from "yaml";

import { arrayField, field, isObject } from "../object-fields.ts";
import { buildInventory, type Inventory, type InventoryProblem } from "./inventory.ts";

/** Raised when a node snapshot file cannot be read or holds no nodes. */
export class InvalidNodeSnapshotError extends Error {
  constructor(
    readonly source: string,
    detail: string,
  ) {
    super(`invalid node snapshot ${source}: ${detail}`);
    this.name = "InvalidNodeSnapshotError";
  }
}

/** Reads a node snapshot file: a NodeList, a List of Nodes, a single Node, or an array. */
export function loadNodeSnapshot(path: string): Inventory {
  return loadNodeSnapshotWithProblems(path).inventory;
}

/** Like loadNodeSnapshot, also returning the nodes and image names that were skipped. */
export function loadNodeSnapshotWithProblems(path: string): {
  inventory: Inventory;
  problems: InventoryProblem[];
} {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error: unknown) {
    const detail = error instanceof Error ? error.message : String(error);
    throw new InvalidNodeSnapshotError(path, `cannot read file: ${detail}`);
  }
  let parsed: unknown;
  try {
    parsed = parseDocument(text);
  } catch (error: unknown) {
    const detail = error instanceof Error ? error.message : String(error);
    throw new InvalidNodeSnapshotError(path, `not valid YAML or JSON: ${detail}`);
  }
  return buildInventory(nodesOf(parsed, path));
}

/** Extracts the Node objects from a parsed snapshot document. */
export function nodesOf(document: unknown, source: string): unknown[] {
  if (Array.isArray(document)) {
    return document;
  }
  if (isObject(document) && field(document, "kind") === "Node") {
    return [document];
  }
  if (isObject(document) && Array.isArray(document["items"])) {
    return arrayField(document, "items");
  }
  throw new InvalidNodeSnapshotError(
    source,
    'expected a NodeList, a List with "items", a Node, or an array of Nodes',
  );
}

/**
 * Parses JSON with JSON.parse and anything else as YAML. Snapshots of large clusters are tens of
 * megabytes of JSON (kubectl get nodes -o json), which the YAML parser reads about fifty times
 * slower, and duplicate keys then resolve as the API server resolves them: the last one wins.
 */
export function parseDocument(text: string): unknown {
  const start = text.trimStart()[0];
  if (start === "{" || start === "[") {
    try {
      return JSON.parse(text);
    } catch {
      // Not JSON after all (YAML flow style also starts with "{"); the YAML parser decides.
    }
  }
  return parseYaml(text);
}
