// The node inventory: what each node reports in status.images, indexed by digest and by
// normalised name so that one lookup costs the same however many nodes the cluster has.
import { formatName, parseImageReference, type ImageReference } from "../image/reference.ts";
import { field, stringField, stringRecord } from "../object-fields.ts";

/** A node taint, as in the Node API object. */
export interface Taint {
  readonly key: string;
  readonly value?: string;
  readonly effect: string;
}

/** What the locality decisions need to know about one node. */
export interface NodeSummary {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly taints: readonly Taint[];
  readonly unschedulable: boolean;
  readonly operatingSystem?: string;
  readonly architecture?: string;
  /**
   * False when status.images is absent: the node's images are unknown, which is not the same as
   * holding nothing (a new node, or a kubelet with nodeStatusMaxImages set to 0).
   */
  readonly imagesReported: boolean;
  /** Entries in status.images, invalid names included: the kubelet caps this at 50 by default. */
  readonly imageCount: number;
}

/** One node holding one image, with the size the node reports for it. */
export interface Holding {
  readonly node: string;
  readonly sizeBytes: number;
}

export interface Inventory {
  readonly nodes: readonly NodeSummary[];
  readonly nodesByName: ReadonlyMap<string, NodeSummary>;
  /** Digest ("sha256:…") -> nodes that list a name carrying it. */
  readonly byDigest: ReadonlyMap<string, readonly Holding[]>;
  /** Normalised "domain/path:tag" -> nodes that list that tagged name. */
  readonly byTaggedName: ReadonlyMap<string, readonly Holding[]>;
}

/** A problem found while reading nodes; the node or entry is skipped, never guessed at. */
export interface InventoryProblem {
  readonly node: string;
  readonly message: string;
}

/** The kubelet's default for nodeStatusMaxImages: status.images lists at most this many. */
export const KUBELET_MAX_REPORTED_IMAGES = 50;

/** Builds the inventory from Node objects; unreadable nodes and names are skipped and listed. */
export function buildInventory(nodes: readonly unknown[]): {
  inventory: Inventory;
  problems: InventoryProblem[];
} {
  const problems: InventoryProblem[] = [];
  const summaries: NodeSummary[] = [];
  const byDigest = new Map<string, Holding[]>();
  const byTaggedName = new Map<string, Holding[]>();
  const nodesByName = new Map<string, NodeSummary>();

  nodes.forEach((node, index) => {
    const summary = summariseNode(node, index, problems);
    if (summary === undefined) {
      return;
    }
    if (nodesByName.has(summary.name)) {
      problems.push({ node: summary.name, message: "duplicate node name; later entry ignored" });
      return;
    }
    nodesByName.set(summary.name, summary);
    summaries.push(summary);
    for (const entry of readImageEntries(node, summary.name, problems)) {
      indexEntry(summary.name, entry, byDigest, byTaggedName);
    }
  });

  return { inventory: { nodes: summaries, nodesByName, byDigest, byTaggedName }, problems };
}

interface ImageEntry {
  readonly references: readonly ImageReference[];
  readonly sizeBytes: number;
}

function summariseNode(
  node: unknown,
  index: number,
  problems: InventoryProblem[],
): NodeSummary | undefined {
  const metadata = field(node, "metadata");
  const name = field(metadata, "name");
  if (typeof name !== "string" || name === "") {
    problems.push({ node: `#${index}`, message: "node has no metadata.name; skipped" });
    return undefined;
  }
  const spec = field(node, "spec");
  const status = field(node, "status");
  const nodeInfo = field(status, "nodeInfo");
  const images = field(status, "images");
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
  };
}

/** Reads status.images; entries with null, absent or unparsable names match nothing. */
function readImageEntries(node: unknown, name: string, problems: InventoryProblem[]): ImageEntry[] {
  const images = field(field(node, "status"), "images");
  if (!Array.isArray(images)) {
    return [];
  }
  const entries: ImageEntry[] = [];
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

function indexEntry(
  node: string,
  entry: ImageEntry,
  byDigest: Map<string, Holding[]>,
  byTaggedName: Map<string, Holding[]>,
): void {
  for (const reference of entry.references) {
    if (reference.digest !== undefined) {
      addHolding(byDigest, reference.digest, node, entry.sizeBytes);
    }
    if (reference.tag !== undefined || reference.digest === undefined) {
      addHolding(byTaggedName, taggedNameKey(reference), node, entry.sizeBytes);
    }
  }
}

/** Adds a holding once per node and key; a larger reported size wins. */
function addHolding(
  index: Map<string, Holding[]>,
  key: string,
  node: string,
  sizeBytes: number,
): void {
  const holdings = index.get(key) ?? [];
  const existing = holdings.findIndex((holding) => holding.node === node);
  if (existing < 0) {
    holdings.push({ node, sizeBytes });
  } else if ((holdings[existing]?.sizeBytes ?? 0) < sizeBytes) {
    holdings[existing] = { node, sizeBytes };
  }
  index.set(key, holdings);
}

/** The key under which a tag-addressed image is indexed: "domain/path:tag", latest implied. */
export function taggedNameKey(reference: ImageReference): string {
  return reference.tag === undefined
    ? `${formatName(reference)}:latest`
    : `${formatName(reference)}:${reference.tag}`;
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
