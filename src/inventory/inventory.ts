// The node inventory: what each node reports in status.images, indexed by digest and by
// normalised name so that one lookup costs the same however many nodes the cluster has.
import { formatName, formatReference, type ImageReference } from "../image/reference.ts";
import { readImageEntries, summariseNode } from "./node-summary.ts";

/** A node taint, as in the Node API object. */
export interface Taint {
  readonly key: string;
  readonly value?: string;
  readonly effect: string;
}

/** Facts about one node that the locality decisions read. */
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
  /** status.allocatable CPU in millicores and memory in bytes; 0 when not reported. */
  readonly allocatable: Resources;
}

/** CPU in millicores and memory in bytes. */
export interface Resources {
  readonly cpuMillis: number;
  readonly memoryBytes: number;
}

/** One node holding one image, with the size the node reports for it. */
export interface Holding {
  readonly node: string;
  readonly sizeBytes: number;
}

/** One entry of a node's status.images: its valid names and reported size. */
export interface NodeImage {
  readonly references: readonly ImageReference[];
  readonly sizeBytes: number;
}

/** Read access to the node inventory, as the admission path uses it. */
export interface Inventory {
  /** Changes whenever the content changes, so derived data can be cached per version. */
  readonly version: number;
  /**
   * Changes when a node is added or removed or its summary (labels, taints, allocatable
   * resources) changes, but not when only its images change, for data derived from nodes alone.
   */
  readonly nodesVersion: number;
  readonly nodes: readonly NodeSummary[];
  readonly nodesByName: ReadonlyMap<string, NodeSummary>;
  /** Nodes listing a name that carries this digest ("sha256:…"), under any repository. */
  holdersOfDigest(digest: string): readonly Holding[];
  /** Nodes listing this tagged name, normalised "domain/path:tag". */
  holdersOfTaggedName(key: string): readonly Holding[];
  /** The node's status.images entries with valid names; empty when unknown. */
  imagesOf(node: string): readonly NodeImage[];
}

/** A problem found while reading nodes; the node or entry is skipped, never guessed at. */
export interface InventoryProblem {
  readonly node: string;
  readonly message: string;
}

/** The kubelet's default for nodeStatusMaxImages: status.images lists at most this many. */
export const KUBELET_MAX_REPORTED_IMAGES = 50;

let nextVersion = 1;

/**
 * The inventory as a mutable index. Nodes are added, replaced and removed one at a time, so a
 * watch event costs the work of one node, not a rebuild. Readers on the admission path see a
 * consistent state because updates run between requests on the same thread.
 */
export class NodeIndex implements Inventory {
  private currentVersion = nextVersion++;
  private currentNodesVersion = nextVersion++;
  private readonly summaries = new Map<string, NodeSummary>();
  private readonly images = new Map<string, readonly NodeImage[]>();
  private readonly digests = new Map<string, Map<string, number>>();
  private readonly taggedNames = new Map<string, Map<string, number>>();
  // Holder lists handed out to readers, rebuilt only after their key changes.
  private readonly digestLists = new Map<string, readonly Holding[]>();
  private readonly taggedNameLists = new Map<string, readonly Holding[]>();
  private nodeList: NodeSummary[] | undefined;

  get version(): number {
    return this.currentVersion;
  }

  get nodesVersion(): number {
    return this.currentNodesVersion;
  }

  get nodes(): readonly NodeSummary[] {
    this.nodeList ??= [...this.summaries.values()];
    return this.nodeList;
  }

  get nodesByName(): ReadonlyMap<string, NodeSummary> {
    return this.summaries;
  }

  holdersOfDigest(digest: string): readonly Holding[] {
    return cachedHoldings(this.digestLists, this.digests, digest);
  }

  holdersOfTaggedName(key: string): readonly Holding[] {
    return cachedHoldings(this.taggedNameLists, this.taggedNames, key);
  }

  imagesOf(node: string): readonly NodeImage[] {
    return this.images.get(node) ?? [];
  }

  /** Adds or replaces a node from its API object; returns the problems found in it. */
  upsert(node: unknown): InventoryProblem[] {
    const problems: InventoryProblem[] = [];
    const summary = summariseNode(node, problems);
    if (summary === undefined) {
      return problems;
    }
    const entries = readImageEntries(node, summary.name, problems);
    // Most node updates change only conditions and heartbeat times. Keeping the version for them
    // keeps the hint rankings cached per version.
    const previous = this.summaries.get(summary.name);
    const summaryChanged =
      previous === undefined || JSON.stringify(previous) !== JSON.stringify(summary);
    if (!summaryChanged && sameEntries(this.images.get(summary.name) ?? [], entries)) {
      return problems;
    }
    this.dropImages(summary.name);
    if (summaryChanged) {
      this.currentNodesVersion = nextVersion++;
    }
    this.summaries.set(summary.name, summary);
    this.images.set(summary.name, entries);
    for (const entry of entries) {
      this.indexEntry(summary.name, entry, 1);
    }
    this.changed();
    return problems;
  }

  /** Removes a node; returns false when it was not known. */
  remove(name: string): boolean {
    if (!this.summaries.delete(name)) {
      return false;
    }
    this.dropImages(name);
    this.currentNodesVersion = nextVersion++;
    this.changed();
    return true;
  }

  /** Takes a node's images out of the name indexes. */
  private dropImages(name: string): void {
    for (const entry of this.images.get(name) ?? []) {
      this.indexEntry(name, entry, -1);
    }
    this.images.delete(name);
  }

  private changed(): void {
    this.currentVersion = nextVersion++;
    this.nodeList = undefined;
  }

  /** Adds (direction 1) or removes (direction -1) one entry's names from the name indexes. */
  private indexEntry(node: string, entry: NodeImage, direction: 1 | -1): void {
    for (const reference of entry.references) {
      if (reference.digest !== undefined) {
        updateHolding(this.digests, reference.digest, node, entry.sizeBytes, direction);
        this.digestLists.delete(reference.digest);
      }
      if (reference.tag !== undefined || reference.digest === undefined) {
        const key = taggedNameKey(reference);
        updateHolding(this.taggedNames, key, node, entry.sizeBytes, direction);
        this.taggedNameLists.delete(key);
      }
    }
  }
}

/** Builds an inventory from Node objects; unreadable nodes and names are skipped and listed. */
export function buildInventory(nodes: readonly unknown[]): {
  inventory: NodeIndex;
  problems: InventoryProblem[];
} {
  const index = new NodeIndex();
  const problems: InventoryProblem[] = [];
  const seen = new Set<string>();
  nodes.forEach((node, position) => {
    const name = nodeName(node);
    if (name === undefined) {
      problems.push({ node: `#${position}`, message: "node has no metadata.name; skipped" });
      return;
    }
    if (seen.has(name)) {
      problems.push({ node: name, message: "duplicate node name; later entry ignored" });
      return;
    }
    seen.add(name);
    problems.push(...index.upsert(node));
  });
  return { inventory: index, problems };
}

function nodeName(node: unknown): string | undefined {
  const metadata =
    typeof node === "object" && node !== null
      ? (node as { metadata?: unknown }).metadata
      : undefined;
  const name =
    typeof metadata === "object" && metadata !== null
      ? (metadata as { name?: unknown }).name
      : undefined;
  return typeof name === "string" && name !== "" ? name : undefined;
}

/**
 * Adds or removes the fact that a node has an image under a key. A node listing the same key twice
 * (one digest shared by two entries) keeps the larger size; removal drops the key for that node.
 */
function updateHolding(
  index: Map<string, Map<string, number>>,
  key: string,
  node: string,
  sizeBytes: number,
  direction: 1 | -1,
): void {
  const holders = index.get(key);
  if (direction === -1) {
    holders?.delete(node);
    if (holders?.size === 0) {
      index.delete(key);
    }
    return;
  }
  const map = holders ?? new Map<string, number>();
  map.set(node, Math.max(map.get(node) ?? 0, sizeBytes));
  index.set(key, map);
}

const NO_HOLDERS: readonly Holding[] = [];

function cachedHoldings(
  lists: Map<string, readonly Holding[]>,
  index: ReadonlyMap<string, ReadonlyMap<string, number>>,
  key: string,
): readonly Holding[] {
  let list = lists.get(key);
  if (list === undefined) {
    const holders = index.get(key);
    if (holders === undefined) {
      return NO_HOLDERS;
    }
    list = [...holders].map(([node, sizeBytes]) => ({ node, sizeBytes }));
    lists.set(key, list);
  }
  return list;
}

// Keys are computed once per reference object: node image names are parsed once and shared.
const taggedKeys = new WeakMap<ImageReference, string>();

/** Returns the key under which a tag-addressed image is indexed: "domain/path:tag", latest implied. */
export function taggedNameKey(reference: ImageReference): string {
  let key = taggedKeys.get(reference);
  if (key === undefined) {
    key = `${formatName(reference)}:${reference.tag ?? "latest"}`;
    taggedKeys.set(reference, key);
  }
  return key;
}

/** Compares two status.images lists entry by entry, in order. */
function sameEntries(left: readonly NodeImage[], right: readonly NodeImage[]): boolean {
  return (
    left.length === right.length &&
    left.every((entry, index) => {
      const other = right[index];
      return (
        entry === other ||
        (other !== undefined &&
          entry.sizeBytes === other.sizeBytes &&
          entry.references.length === other.references.length &&
          entry.references.every((reference, at) => {
            const otherReference = other.references[at];
            return (
              otherReference !== undefined &&
              formatReference(reference) === formatReference(otherReference)
            );
          }))
      );
    })
  );
}
