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

/**
 * Builds the index from every node's reported images. Each image is looked up by a digest name
 * when it has one (the digest it was pulled by), else by a tagged name; images without cached
 * manifest data contribute no layers, and lookups of them schedule background fetches.
 */
export function buildNodeLayerIndex(inventory: Inventory, source: LayerSource): NodeLayerIndex {
  const holders = new Map<string, string[]>();
  let completeNodes = 0;
  let nodesWithImages = 0;
  for (const node of inventory.nodes) {
    const platform = platformOf(node);
    const layers = new Set<string>();
    const images = inventory.imagesOf(node.name);
    if (images.length === 0) {
      continue;
    }
    nodesWithImages += 1;
    let complete = platform !== undefined;
    for (const image of images) {
      const found = platform === undefined ? undefined : imageLayers(image, platform, source);
      complete &&= found !== undefined;
      for (const layer of found ?? []) {
        layers.add(layer.digest);
      }
    }
    for (const digest of layers) {
      const list = holders.get(digest);
      if (list === undefined) {
        holders.set(digest, [node.name]);
      } else {
        list.push(node.name);
      }
    }
    completeNodes += complete ? 1 : 0;
  }
  return {
    inventoryVersion: inventory.version,
    holdersOf: (digest) => holders.get(digest) ?? [],
    completeNodes,
    nodesWithImages,
  };
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
