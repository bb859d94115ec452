// Node storage for the layer report: each node's status.images entries grouped into images,
// and the layers of each image on the node's platform, read from a LayerSource. Sizes come only
// from manifests. An image whose manifest cannot be read contributes no layers and is listed.
import {
  formatName,
  formatNormalized,
  formatReference,
  type ImageReference,
} from "../image/reference.ts";
import type { Inventory, NodeImage, NodeSummary } from "../inventory/inventory.ts";
import type { ImageManifestInfo, Layer, LayerSource, Platform } from "../locality/layers.ts";
import { platformOf } from "../locality/node-layers.ts";

/** One image as the report counts it, across the nodes that report it. */
export interface ReportImage {
  /** The digest when a node reported one (it names the content), else the tagged name. */
  readonly key: string;
  /** A tagged name when there is one, for people to read; else the digest name. */
  readonly name: string;
  /** Manifest data, once any of the image's names was read; undefined otherwise. */
  info: ImageManifestInfo | undefined;
  /** Nodes reporting the image. */
  holders: number;
  /** The reason layers are missing for some or all holders; undefined when none are. */
  problem: { reason: string; nodes: number } | undefined;
}

/** One node's images and the layers they add up to. */
export interface NodeStorage {
  readonly node: NodeSummary;
  /** Undefined when the node reports neither nodeInfo nor the kubernetes.io/os and arch labels. */
  readonly platform: Platform | undefined;
  /** Keys of the images the node reports. */
  readonly images: ReadonlySet<string>;
  /** Layer digest -> compressed size, each layer once, over the images with readable manifests. */
  readonly layers: ReadonlyMap<string, number>;
  /** The layer bytes of each readable image summed in full, as if images shared no layers. */
  readonly unsharedBytes: number;
}

/** Every node's storage and every image, keyed by ReportImage.key. */
export interface ClusterStorage {
  readonly nodes: readonly NodeStorage[];
  readonly images: ReadonlyMap<string, ReportImage>;
}

/** Reason given for an image whose manifest lookup returned nothing. */
export const NOT_READ = "manifest not read (offline, timed out or registry unavailable)";

/** Groups every node's images and reads their layers from `source`, which must not block. */
export function readClusterStorage(inventory: Inventory, source: LayerSource): ClusterStorage {
  const images = new Map<string, ReportImage>();
  const lookups = new Map<NodeImage, ImageManifestInfo | undefined>();
  const lookup = (entry: NodeImage): ImageManifestInfo | undefined => {
    if (!lookups.has(entry)) {
      lookups.set(entry, lookupEntry(entry, source));
    }
    return lookups.get(entry);
  };

  const nodes = inventory.nodes.map((node) =>
    readNode(node, inventory.imagesOf(node.name), images, lookup),
  );
  return { nodes, images };
}

function readNode(
  node: NodeSummary,
  entries: readonly NodeImage[],
  images: Map<string, ReportImage>,
  lookup: (entry: NodeImage) => ImageManifestInfo | undefined,
): NodeStorage {
  const platform = platformOf(node);
  const keys = new Set<string>();
  const layers = new Map<string, number>();
  let unsharedBytes = 0;

  for (const entry of entries) {
    const image = registerImage(entry, images);
    // A node listing one digest under two entries has one image.
    if (image === undefined || keys.has(image.key)) {
      continue;
    }
    keys.add(image.key);
    image.holders += 1;

    const info = lookup(entry);
    if (info?.status === "resolved") {
      image.info ??= info;
    }
    const found = platform === undefined ? undefined : layersOn(image, info, platform);
    for (const layer of found ?? []) {
      layers.set(layer.digest, layer.size);
      unsharedBytes += layer.size;
    }
  }
  return { node, platform, images: keys, layers, unsharedBytes };
}

/** Returns the image's layers on `platform`, or undefined after noting the reason they are unknown. */
function layersOn(
  image: ReportImage,
  info: ImageManifestInfo | undefined,
  platform: Platform,
): readonly Layer[] | undefined {
  if (info?.status !== "resolved") {
    noteProblem(image, info?.status === "failed" ? info.reason : NOT_READ);
    return undefined;
  }
  const layers = info.layersFor(platform);
  if (layers === undefined) {
    noteProblem(image, `no image for ${platform.os}/${platform.architecture} in its manifest`);
  }
  return layers;
}

function noteProblem(image: ReportImage, reason: string): void {
  if (image.problem === undefined) {
    image.problem = { reason, nodes: 1 };
  } else {
    image.problem.nodes += 1;
  }
}

/** Finds or adds the image an entry belongs to; undefined for an entry without valid names. */
function registerImage(
  entry: NodeImage,
  images: Map<string, ReportImage>,
): ReportImage | undefined {
  const digestName = entry.references.find((reference) => reference.digest !== undefined);
  const taggedName = entry.references.find((reference) => reference.digest === undefined);
  const chosen = digestName ?? taggedName;
  if (chosen === undefined) {
    return undefined;
  }
  const key = digestName?.digest ?? formatNormalized(chosen);
  let image = images.get(key);
  if (image === undefined) {
    const name =
      taggedName === undefined ? `${formatName(chosen)}@${key}` : formatReference(taggedName);
    image = { key, name, info: undefined, holders: 0, problem: undefined };
    images.set(key, image);
  }
  return image;
}

/**
 * Looks the entry up by each of its names, digest names first (a digest names the content the
 * node pulled, a tag may have moved since), and returns the first resolved result, else the
 * first failure, else undefined.
 */
function lookupEntry(entry: NodeImage, source: LayerSource): ImageManifestInfo | undefined {
  let failure: ImageManifestInfo | undefined;
  for (const reference of digestNamesFirst(entry.references)) {
    const info = source.lookup(reference);
    if (info?.status === "resolved") {
      return info;
    }
    failure ??= info;
  }
  return failure;
}

function digestNamesFirst(references: readonly ImageReference[]): ImageReference[] {
  return [
    ...references.filter((reference) => reference.digest !== undefined),
    ...references.filter((reference) => reference.digest === undefined),
  ];
}
