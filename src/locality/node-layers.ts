// The layers each node holds: the union of the layers of the images it reports, read from
// cached manifests. Built in the background whenever the inventory or the manifest cache
// changes, and read by admissions as an index from layer digest to nodes.
import type { ImageReference } from "../image/reference.ts";
import type { Inventory, NodeImage, NodeSummary } from "../inventory/inventory.ts";
import type { Layer, LayerSource, Platform } from "./layers.ts";

/** Layer digest -> nodes holding it, and the size of each layer. */
export interface NodeLayerIndex {
  /** The inventory version the index was built from. */
  readonly inventoryVersion: number;
  holdersOf(layerDigest: string): readonly string[];
  /** Nodes reporting images whose every reported image had manifest data. */
  readonly completeNodes: number;
  /** Nodes reporting at least one image. */
  readonly nodesWithImages: number;
}

// Layer scores are used once this share of the nodes reporting images have manifest data for
// all of them; before that (at start-up, while manifests are fetched) hints match whole images,
// because nodes without data would look cold.
export const MIN_LAYER_COVERAGE = 0.8;

/** True when enough nodes have manifest data for layer scores to be fair. */
export function hasLayerCoverage(index: NodeLayerIndex): boolean {
  return (
    index.nodesWithImages > 0 && index.completeNodes >= MIN_LAYER_COVERAGE * index.nodesWithImages
  );
}

/** Returns the platform of a node: nodeInfo when reported, else the well-known labels. */
export function platformOf(node: NodeSummary): Platform | undefined {
  const os = node.operatingSystem ?? node.labels["kubernetes.io/os"];
  const architecture = node.architecture ?? node.labels["kubernetes.io/arch"];
  return os === undefined || architecture === undefined ? undefined : { os, architecture };
}

/** Settings of a sliced build; see buildNodeLayerIndexInSlices. */
export interface SliceOptions {
  /** Node images read per slice (default 2,000). A slice ends with the node that reaches it. */
  readonly imagesPerSlice?: number;
  /** Function awaited between slices. The default waits one turn of the event loop. */
  readonly pause?: () => Promise<void>;
  /** Signal that stops the build between slices. The build then rejects with its reason. */
  readonly signal?: AbortSignal;
}

const DEFAULT_IMAGES_PER_SLICE = 2000;

/**
 * Builds the index from every node's reported images. Each image is looked up by a digest name
 * when it has one (the digest it was pulled by), else by a tagged name; images without cached
 * manifest data contribute no layers, and lookups of them schedule background fetches.
 */
export function buildNodeLayerIndex(inventory: Inventory, source: LayerSource): NodeLayerIndex {
  const builder = new IndexBuilder(inventory, source);
  while (!builder.done) {
    builder.addNodes(Number.POSITIVE_INFINITY);
  }
  return builder.finish();
}

/**
 * Builds the same index as buildNodeLayerIndex in slices of about `imagesPerSlice` node images,
 * waiting on `pause` between slices so that other work (admissions, fetches) runs meanwhile. The
 * index describes the inventory as it was when the call started: the node list and each node's
 * images are read then, so nodes changed or removed during the build do not mix two versions.
 */
export async function buildNodeLayerIndexInSlices(
  inventory: Inventory,
  source: LayerSource,
  options: SliceOptions = {},
): Promise<NodeLayerIndex> {
  const imagesPerSlice = options.imagesPerSlice ?? DEFAULT_IMAGES_PER_SLICE;
  const pause = options.pause ?? nextEventLoopTurn;
  const builder = new IndexBuilder(inventory, source);
  builder.addNodes(imagesPerSlice);
  while (!builder.done) {
    await pause();
    options.signal?.throwIfAborted();
    builder.addNodes(imagesPerSlice);
  }
  return builder.finish();
}

/** Resolves after one turn of the event loop, once pending I/O callbacks have run. */
export function nextEventLoopTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * Collects the index node by node. Nodes usually share their NodeImage entries (the inventory
 * keeps one per distinct names and size), so each entry's layers are read from the source once
 * per platform and build, not once per node.
 */
class IndexBuilder {
  readonly #source: LayerSource;
  readonly #inventoryVersion: number;
  readonly #nodes: readonly { summary: NodeSummary; images: readonly NodeImage[] }[];
  readonly #holders = new Map<string, string[]>();
  readonly #layersByPlatform = new Map<string, Map<NodeImage, readonly string[] | undefined>>();
  #next = 0;
  #completeNodes = 0;
  #nodesWithImages = 0;

  constructor(inventory: Inventory, source: LayerSource) {
    this.#source = source;
    this.#inventoryVersion = inventory.version;
    this.#nodes = inventory.nodes.map((summary) => ({
      summary,
      images: inventory.imagesOf(summary.name),
    }));
  }

  get done(): boolean {
    return this.#next >= this.#nodes.length;
  }

  /**
   * Adds nodes until at least `imageBudget` node images were read or no node is left. It adds one
   * node at least, so every call makes progress whatever the budget (0, negative or NaN).
   */
  addNodes(imageBudget: number): void {
    let read = 0;
    do {
      const node = this.#nodes[this.#next];
      this.#next += 1;
      if (node !== undefined) {
        this.#addNode(node.summary, node.images);
        read += node.images.length;
      }
    } while (read < imageBudget && !this.done);
  }

  finish(): NodeLayerIndex {
    const holders = this.#holders;
    return {
      inventoryVersion: this.#inventoryVersion,
      holdersOf: (digest) => holders.get(digest) ?? [],
      completeNodes: this.#completeNodes,
      nodesWithImages: this.#nodesWithImages,
    };
  }

  #addNode(node: NodeSummary, images: readonly NodeImage[]): void {
    if (images.length === 0) {
      return;
    }
    this.#nodesWithImages += 1;
    const platform = platformOf(node);
    const layers = new Set<string>();
    let complete = platform !== undefined;
    for (const image of images) {
      const found = platform === undefined ? undefined : this.#layerDigests(image, platform);
      complete &&= found !== undefined;
      for (const digest of found ?? []) {
        layers.add(digest);
      }
    }
    for (const digest of layers) {
      const list = this.#holders.get(digest);
      if (list === undefined) {
        this.#holders.set(digest, [node.name]);
      } else {
        list.push(node.name);
      }
    }
    this.#completeNodes += complete ? 1 : 0;
  }

  /** Layer digests of one node image on a platform, read from the source once per build. */
  #layerDigests(image: NodeImage, platform: Platform): readonly string[] | undefined {
    const key = `${platform.os}/${platform.architecture}`;
    let cache = this.#layersByPlatform.get(key);
    if (cache === undefined) {
      cache = new Map();
      this.#layersByPlatform.set(key, cache);
    }
    if (cache.has(image)) {
      return cache.get(image);
    }
    const digests = imageLayers(image, platform, this.#source)?.map((layer) => layer.digest);
    cache.set(image, digests);
    return digests;
  }
}

/** Layers of one node image on the node's platform, from the first name with cached data. */
function imageLayers(
  image: NodeImage,
  platform: Platform,
  source: LayerSource,
): readonly Layer[] | undefined {
  for (const reference of orderedNames(image.references)) {
    const info = source.lookup(reference);
    if (info?.status === "resolved") {
      return info.layersFor(platform);
    }
  }
  return undefined;
}

/** Digest names first: the digest names the content the node pulled, a tag may have moved. */
function orderedNames(references: readonly ImageReference[]): ImageReference[] {
  return [
    ...references.filter((reference) => reference.digest !== undefined),
    ...references.filter((reference) => reference.digest === undefined),
  ];
}

/** An index with no layers, for when no manifest data is available. */
export const EMPTY_LAYER_INDEX: NodeLayerIndex = {
  inventoryVersion: -1,
  holdersOf: () => [],
  completeNodes: 0,
  nodesWithImages: 0,
};
