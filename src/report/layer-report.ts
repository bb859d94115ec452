// The layer report: how much image data the nodes of a cluster store, how much layer sharing
// saves, which images are most worth pre-pulling, and which nodes are near the kubelet's limit
// of reported images. It does no I/O: it reads an Inventory and a LayerSource that must not
// block.
import { KUBELET_MAX_REPORTED_IMAGES, type Inventory } from "../inventory/inventory.ts";
import type { Layer, LayerSource, Platform } from "../locality/layers.ts";
import { readClusterStorage, type NodeStorage, type ReportImage } from "./node-storage.ts";

/** Options of buildLayerReport. */
export interface LayerReportOptions {
  /** Pre-pull candidates listed, best first; default 10. */
  readonly top?: number;
}

/** Layer counts and compressed bytes over the images whose manifests were read. */
export interface LayerTotals {
  /** Distinct layer digests on all nodes. */
  readonly unique: number;
  /** Layers stored, summed over nodes; a node stores a layer once however many images use it. */
  readonly references: number;
  /** One copy of each distinct layer: what a registry mirror stores. */
  readonly uniqueBytes: number;
  /** Bytes of `references`: what the nodes store. */
  readonly storedBytes: number;
  /** Each image's layers counted in full on every node: what nodes would store without sharing. */
  readonly unsharedBytes: number;
}

/** An image that many nodes use and many others lack. */
export interface PrepullCandidate {
  readonly image: string;
  /** Eligible nodes that report the image. */
  readonly holders: number;
  /** Nodes with a known platform that the image has a manifest for. */
  readonly eligibleNodes: number;
  /** The image's compressed size on the largest of those platforms. */
  readonly sizeBytes: number;
  /** Layer bytes the eligible nodes without the image lack, summed over those nodes. */
  readonly missingBytes: number;
  /** holders x missingBytes / eligibleNodes; see buildLayerReport. */
  readonly score: number;
}

/** A node whose status.images is at or near the kubelet's limit. */
export interface NodeNearLimit {
  readonly node: string;
  readonly imageCount: number;
}

/** An image whose layers are unknown on some or all of the nodes that report it. */
export interface UnreadManifest {
  readonly image: string;
  readonly nodes: number;
  readonly reason: string;
}

/** Everything the report prints. */
export interface LayerReport {
  readonly nodes: number;
  /** Nodes without a known OS and architecture: their layers cannot be chosen from an index. */
  readonly nodesWithoutPlatform: readonly string[];
  /** status.images entries with valid names, summed over nodes. */
  readonly imageEntries: number;
  readonly distinctImages: number;
  /** Distinct images with a readable manifest. */
  readonly readImages: number;
  readonly layers: LayerTotals;
  readonly prepullCandidates: readonly PrepullCandidate[];
  readonly nearImageLimit: readonly NodeNearLimit[];
  readonly unreadManifests: readonly UnreadManifest[];
}

/**
 * The kubelet lists at most nodeStatusMaxImages images per node (50 by default), the largest
 * first. Nodes with at least 90 % of that are listed, because beyond it images go unreported.
 */
export const NEAR_IMAGE_LIMIT = Math.ceil(KUBELET_MAX_REPORTED_IMAGES * 0.9);

const DEFAULT_TOP = 10;

/**
 * Builds the report. Sizes are the compressed layer sizes that manifests state, never the
 * sizes nodes report. An image's pre-pull score is its holders times the mean bytes a new pod
 * of it would pull on an eligible node picked at random. Holders stand in for how often the
 * image starts, because each node holding it has run it. The bytes pulled on a node are the
 * layers it lacks, zero on holders. So the score is highest for large images used on about half
 * the nodes, and zero for images every node has.
 */
export function buildLayerReport(
  inventory: Inventory,
  source: LayerSource,
  options: LayerReportOptions = {},
): LayerReport {
  const { nodes, images } = readClusterStorage(inventory, source);
  const withPlatform = nodes.filter(hasPlatform);
  const all = [...images.values()];

  return {
    nodes: nodes.length,
    nodesWithoutPlatform: nodes
      .filter((node) => node.platform === undefined)
      .map((node) => node.node.name),
    imageEntries: nodes.reduce((sum, node) => sum + node.images.size, 0),
    distinctImages: images.size,
    readImages: all.filter((image) => image.info !== undefined).length,
    layers: layerTotals(nodes),
    prepullCandidates: rankCandidates(all, withPlatform, options.top ?? DEFAULT_TOP),
    nearImageLimit: nearLimit(inventory),
    unreadManifests: all
      .filter((image) => image.problem !== undefined)
      .map((image) => ({
        image: image.name,
        nodes: image.problem?.nodes ?? 0,
        reason: image.problem?.reason ?? "",
      }))
      .sort((a, b) => b.nodes - a.nodes || a.image.localeCompare(b.image)),
  };
}

function layerTotals(nodes: readonly NodeStorage[]): LayerTotals {
  const unique = new Map<string, number>();
  let references = 0;
  let storedBytes = 0;
  let unsharedBytes = 0;
  for (const node of nodes) {
    references += node.layers.size;
    unsharedBytes += node.unsharedBytes;
    for (const [digest, size] of node.layers) {
      storedBytes += size;
      unique.set(digest, size);
    }
  }
  const uniqueBytes = [...unique.values()].reduce((sum, size) => sum + size, 0);
  return { unique: unique.size, references, uniqueBytes, storedBytes, unsharedBytes };
}

/** A node whose platform is known. */
type PlacedNode = NodeStorage & { readonly platform: Platform };

function hasPlatform(node: NodeStorage): node is PlacedNode {
  return node.platform !== undefined;
}

function rankCandidates(
  images: readonly ReportImage[],
  nodes: readonly PlacedNode[],
  top: number,
): PrepullCandidate[] {
  const candidates: PrepullCandidate[] = [];
  for (const image of images) {
    const candidate = evaluate(image, nodes);
    if (candidate !== undefined && candidate.score > 0) {
      candidates.push(candidate);
    }
  }
  candidates.sort((a, b) => b.score - a.score || a.image.localeCompare(b.image));
  return candidates.slice(0, top);
}

/** Scores one image against every node with a known platform. */
function evaluate(image: ReportImage, nodes: readonly PlacedNode[]): PrepullCandidate | undefined {
  const info = image.info;
  if (info?.status !== "resolved") {
    return undefined;
  }
  // Nodes of one platform get the same layers, so each platform is looked up once.
  const byPlatform = new Map<string, readonly Layer[] | undefined>();

  let holders = 0;
  let eligibleNodes = 0;
  let sizeBytes = 0;
  let missingBytes = 0;
  for (const node of nodes) {
    const { os, architecture, variant } = node.platform;
    const key = `${os}/${architecture}/${variant ?? ""}`;
    if (!byPlatform.has(key)) {
      byPlatform.set(key, info.layersFor(node.platform));
    }
    const layers = byPlatform.get(key);
    if (layers === undefined) {
      continue;
    }

    eligibleNodes += 1;
    sizeBytes = Math.max(sizeBytes, sumSizes(layers));
    if (node.images.has(image.key)) {
      holders += 1;
    } else {
      missingBytes += sumSizes(layers.filter((layer) => !node.layers.has(layer.digest)));
    }
  }
  if (eligibleNodes === 0) {
    return undefined;
  }

  const score = Math.round((holders * missingBytes) / eligibleNodes);
  return { image: image.name, holders, eligibleNodes, sizeBytes, missingBytes, score };
}

function nearLimit(inventory: Inventory): NodeNearLimit[] {
  return inventory.nodes
    .filter((node) => node.imageCount >= NEAR_IMAGE_LIMIT)
    .map((node) => ({ node: node.name, imageCount: node.imageCount }))
    .sort((a, b) => b.imageCount - a.imageCount || a.node.localeCompare(b.node));
}

function sumSizes(layers: readonly Layer[]): number {
  return layers.reduce((sum, layer) => sum + layer.size, 0);
}
