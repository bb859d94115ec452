// Reading Node API objects of any shape into the summaries and image entries the inventory keeps.
import { parseImageReference, type ImageReference, type ParseResult } from "../image/reference.ts";
import { field, stringField, stringRecord } from "../object-fields.ts";
import type { InventoryProblem, NodeImage, NodeSummary, Taint } from "./inventory.ts";
import { parseMilliCpu, parseQuantity } from "./quantity.ts";

// Nodes report the same image names over and over (every node runs the same system images), so
// parsed names are shared: one ImageReference per distinct name, not one per node. The cache is
// dropped whole when it grows past this many names, which bounds it as images churn.
const MAX_CACHED_NAMES = 50_000;
const parsedNames = new Map<string, ParseResult>();

function parseNodeImageName(name: string): ParseResult {
  let parsed = parsedNames.get(name);
  if (parsed === undefined) {
    if (parsedNames.size >= MAX_CACHED_NAMES) {
      parsedNames.clear();
    }
    parsed = parseImageReference(name);
    parsedNames.set(name, parsed);
  }
  return parsed;
}

/** Summarises a Node object; undefined (with a problem) when it has no name. */
export function summariseNode(
  node: unknown,
  problems: InventoryProblem[],
): NodeSummary | undefined {
  const metadata = field(node, "metadata");
  const name = field(metadata, "name");
  if (typeof name !== "string" || name === "") {
    problems.push({ node: "(unnamed)", message: "node has no metadata.name; skipped" });
    return undefined;
  }
  const spec = field(node, "spec");
  const status = field(node, "status");
  const nodeInfo = field(status, "nodeInfo");
  const images = field(status, "images");
  const allocatable = field(status, "allocatable");
  const operatingSystem = stringField(nodeInfo, "operatingSystem");
  const architecture = stringField(nodeInfo, "architecture");

  return {
    name,
    labels: stringRecord(field(metadata, "labels")),
    taints: readTaints(field(spec, "taints")),
    unschedulable: field(spec, "unschedulable") === true,
    ...(operatingSystem === undefined ? {} : { operatingSystem }),
    ...(architecture === undefined ? {} : { architecture }),
    imagesReported: Array.isArray(images),
    imageCount: Array.isArray(images) ? images.length : 0,
    allocatable: {
      cpuMillis: parseMilliCpu(field(allocatable, "cpu")) ?? 0,
      memoryBytes: parseQuantity(field(allocatable, "memory")) ?? 0,
    },
  };
}

/** Reads status.images; entries with null, absent or unparsable names match nothing. */
export function readImageEntries(
  node: unknown,
  name: string,
  problems: InventoryProblem[],
): NodeImage[] {
  const images = field(field(node, "status"), "images");
  if (!Array.isArray(images)) {
    return [];
  }
  const entries: NodeImage[] = [];
  for (const image of images) {
    const names = field(image, "names");
    const size = field(image, "sizeBytes");
    if (!Array.isArray(names)) {
      continue;
    }
    // Sizes past 2^53 are not real image sizes, and summing them could overflow to Infinity.
    const sizeBytes = typeof size === "number" && Number.isSafeInteger(size) && size > 0 ? size : 0;
    entries.push(sharedEntry(names, sizeBytes, name, problems));
  }
  return entries;
}

// Entries with the same names and size are shared between nodes, like parsed names above.
const sharedEntries = new Map<string, { names: readonly unknown[]; entry: NodeImage }>();

function sharedEntry(
  names: readonly unknown[],
  sizeBytes: number,
  node: string,
  problems: InventoryProblem[],
): NodeImage {
  // The first name (usually the digest name) and the size nearly always identify the entry;
  // the full comparison below settles the rest.
  const key = `${sizeBytes} ${names.length} ${String(names[0])}`;
  const cached = sharedEntries.get(key);
  if (cached !== undefined && sameNames(cached.names, names)) {
    return cached.entry;
  }
  const references: ImageReference[] = [];
  for (const imageName of names) {
    const parsed = typeof imageName === "string" ? parseNodeImageName(imageName) : undefined;
    if (parsed?.ok === true) {
      references.push(parsed.reference);
    } else {
      problems.push({ node, message: `image name ${JSON.stringify(imageName)} ignored` });
    }
  }
  const entry: NodeImage = { references, sizeBytes };
  if (sharedEntries.size >= MAX_CACHED_NAMES) {
    sharedEntries.clear();
  }
  sharedEntries.set(key, { names: [...names], entry });
  return entry;
}

function sameNames(left: readonly unknown[], right: readonly unknown[]): boolean {
  return left.length === right.length && left.every((name, index) => name === right[index]);
}

function readTaints(value: unknown): Taint[] {
  if (!Array.isArray(value)) {
    return [];
  }
  const taints: Taint[] = [];
  for (const taint of value) {
    const key = stringField(taint, "key");
    const effect = stringField(taint, "effect");
    const taintValue = stringField(taint, "value");
    if (key !== undefined && effect !== undefined) {
      taints.push({ key, effect, ...(taintValue === undefined ? {} : { value: taintValue }) });
    }
  }
  return taints;
}
