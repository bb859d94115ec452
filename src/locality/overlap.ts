// Overlap: for each node, how many bytes of a pod's images it already holds, from the names and
// digests nodes report in status.images.
import { formatReference, type ImageReference } from "../image/reference.ts";
import { taggedNameKey, type Holding, type Inventory } from "../inventory/inventory.ts";

/** One image of the pod: as written, and where the mirror rules send it (if anywhere). */
export interface PodImage {
  readonly original: ImageReference;
  readonly mirrored?: ImageReference;
}

/** Bytes of the pod's images one node holds. */
export interface NodeOverlap {
  readonly node: string;
  readonly heldBytes: number;
  readonly heldImages: number;
}

export interface OverlapResult {
  /** Nodes holding at least one of the pod's images, in no particular order. */
  readonly overlaps: readonly NodeOverlap[];
  /** Sum over the pod's distinct images of the largest size any node reports for each. */
  readonly totalBytes: number;
  /** Images no node reports; the pull target (mirrored when rewritten) of each. */
  readonly cold: readonly ImageReference[];
}

/**
 * Finds the nodes holding an image. A digest-pinned image matches only by digest, whatever the
 * repository name, because a tag on a node may be stale or synthetic while a digest names the
 * content. Otherwise the tagged name matches, as written or as mirrored.
 */
export function findHolders(inventory: Inventory, image: PodImage): readonly Holding[] {
  if (image.original.digest !== undefined) {
    return inventory.holdersOfDigest(image.original.digest);
  }
  const direct = inventory.holdersOfTaggedName(taggedNameKey(image.original));
  if (image.mirrored === undefined) {
    return direct;
  }
  const mirrored = inventory.holdersOfTaggedName(taggedNameKey(image.mirrored));
  // The inventory keys its holder lists by node, so a list returned alone needs no merge.
  if (mirrored.length === 0) {
    return direct;
  }
  return direct.length === 0 ? mirrored : mergeHoldings(direct, mirrored);
}

/**
 * Returns whether any node holds the image, by the rules of findHolders, without building the
 * merged list that findHolders returns (an entry per node for a popular image).
 */
function isHeld(inventory: Inventory, image: PodImage): boolean {
  if (image.original.digest !== undefined) {
    return inventory.holdersOfDigest(image.original.digest).length > 0;
  }
  if (inventory.holdersOfTaggedName(taggedNameKey(image.original)).length > 0) {
    return true;
  }
  return (
    image.mirrored !== undefined &&
    inventory.holdersOfTaggedName(taggedNameKey(image.mirrored)).length > 0
  );
}

/** Scores every node holding any of the pod's images; each distinct image is counted once. */
export function computeOverlap(inventory: Inventory, images: readonly PodImage[]): OverlapResult {
  const byNode = new Map<string, { heldBytes: number; heldImages: number }>();
  const cold: ImageReference[] = [];
  let totalBytes = 0;

  for (const image of distinctImages(images)) {
    const holders = findHolders(inventory, image);
    if (holders.length === 0) {
      cold.push(image.mirrored ?? image.original);
      continue;
    }
    totalBytes += Math.max(...holders.map((holding) => holding.sizeBytes));
    for (const holding of holders) {
      const entry = byNode.get(holding.node) ?? { heldBytes: 0, heldImages: 0 };
      entry.heldBytes += holding.sizeBytes;
      entry.heldImages += 1;
      byNode.set(holding.node, entry);
    }
  }

  const overlaps = [...byNode].map(([node, entry]) => ({ node, ...entry }));
  return { overlaps, totalBytes, cold };
}

function distinctImages(images: readonly PodImage[]): PodImage[] {
  const seen = new Map<string, PodImage>();
  for (const image of images) {
    const key = formatReference(image.mirrored ?? image.original);
    if (!seen.has(key)) {
      seen.set(key, image);
    }
  }
  return [...seen.values()];
}

function mergeHoldings(first: readonly Holding[], second: readonly Holding[]): Holding[] {
  const merged = new Map<string, Holding>();
  for (const holding of [...first, ...second]) {
    const existing = merged.get(holding.node);
    if (existing === undefined || existing.sizeBytes < holding.sizeBytes) {
      merged.set(holding.node, holding);
    }
  }
  return [...merged.values()];
}

/** Images no node reports, as pulled (mirrored when rewritten); each distinct image once. */
export function coldImages(inventory: Inventory, images: readonly PodImage[]): ImageReference[] {
  return distinctImages(images)
    .filter((image) => !isHeld(inventory, image))
    .map((image) => image.mirrored ?? image.original);
}
