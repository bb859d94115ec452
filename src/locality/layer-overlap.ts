// Layer-level overlap: how many bytes of a pod's layers each node already holds. A node holding
// app:v1 holds most of app:v2's bytes when the two share their base layers, which name and
// digest matching cannot see.
import type { ImageReference } from "../image/reference.ts";
import type { Layer, LayerSource, Platform } from "./layers.ts";
import type { NodeLayerIndex } from "./node-layers.ts";
import type { NodeOverlap, PodImage } from "./overlap.ts";

/** The pod's layers on one platform. */
export type PodLayers =
  | { readonly status: "complete"; readonly layers: readonly Layer[]; readonly totalBytes: number }
  /** Some image has no cached manifest yet. */
  | { readonly status: "incomplete" }
  /** Some image cannot run on this platform. */
  | { readonly status: "unsupported"; readonly image: ImageReference };

/** Collects the distinct layers of the pod's images on a platform; each layer counts once. */
export function podLayersFor(
  images: readonly PodImage[],
  platform: Platform,
  source: LayerSource,
): PodLayers {
  const layers = new Map<string, Layer>();
  let incomplete = false;
  // Every image is checked: one that cannot run here rules the platform out even when an
  // earlier image has no manifest yet.
  for (const image of images) {
    const pulled = image.mirrored ?? image.original;
    const info = source.lookup(pulled);
    if (info === undefined || info.status === "failed") {
      incomplete = true;
      continue;
    }
    const found = info.layersFor(platform);
    if (found === undefined) {
      return { status: "unsupported", image: pulled };
    }
    for (const layer of found) {
      layers.set(layer.digest, layer);
    }
  }
  if (incomplete) {
    return { status: "incomplete" };
  }
  const list = [...layers.values()];
  const totalBytes = list.reduce((sum, layer) => sum + layer.size, 0);
  return { status: "complete", layers: list, totalBytes };
}

/**
 * Sums, per node, the sizes of the pod's layers the node holds. Only nodes accepted by
 * includeNode count, so nodes of another platform (other layer digests) are left out.
 */
export function computeLayerOverlap(
  layers: readonly Layer[],
  index: NodeLayerIndex,
  includeNode: (node: string) => boolean,
): NodeOverlap[] {
  const byNode = new Map<string, { heldBytes: number; heldImages: number }>();
  for (const layer of layers) {
    for (const node of index.holdersOf(layer.digest)) {
      if (!includeNode(node)) {
        continue;
      }
      const entry = byNode.get(node) ?? { heldBytes: 0, heldImages: 0 };
      entry.heldBytes += layer.size;
      entry.heldImages += 1;
      byNode.set(node, entry);
    }
  }
  return [...byNode].map(([node, entry]) => ({ node, ...entry }));
}
