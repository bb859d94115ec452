// Reading Node API objects of any shape into the summaries and image entries the inventory keeps.
import { parseImageReference, type ImageReference } from "../image/reference.ts";
import { field, stringField, stringRecord } from "../object-fields.ts";
import type { InventoryProblem, NodeImage, NodeSummary, Taint } from "./inventory.ts";
import { parseMilliCpu, parseQuantity } from "./quantity.ts";

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
    const references: ImageReference[] = [];
    for (const imageName of names) {
      const parsed = typeof imageName === "string" ? parseImageReference(imageName) : undefined;
      if (parsed?.ok === true) {
        references.push(parsed.reference);
      } else {
        problems.push({ node: name, message: `image name ${JSON.stringify(imageName)} ignored` });
      }
    }
    const sizeBytes = typeof size === "number" && Number.isFinite(size) && size > 0 ? size : 0;
    entries.push({ references, sizeBytes });
  }
  return entries;
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
