// Facts the controller reads about an image before pulling it: the platforms it runs on, and
// its size on each, which the node byte budget is charged with. factsFromLayers reads them from
// the manifest cache, where a miss only schedules a fetch, so a lookup never waits on a registry.
import { parseImageReference } from "../image/reference.ts";
import type { NodeSummary } from "../inventory/inventory.ts";
import type { LayerSource, Platform } from "../locality/layers.ts";

/** The facts about one image, or why they are unavailable. */
export type ImageFacts =
  | {
      readonly status: "known";
      readonly platforms: readonly Platform[];
      /** Compressed bytes pulled on a node of this platform; undefined when unsupported. */
      readonly sizeFor: (platform: Platform) => number | undefined;
    }
  /** The manifest cannot be read: the image is pulled anyway, with the assumed size. */
  | { readonly status: "unavailable"; readonly reason: string }
  /** The manifest is being fetched; ask again later. */
  | { readonly status: "pending" };

/** Looks up image facts without waiting. */
export interface ImageFactSource {
  describe(image: string): ImageFacts;
}

/**
 * Reads image facts from a LayerSource such as the ManifestStore. A miss makes the store fetch
 * the manifest in the background and reads as pending until it arrives.
 */
export function factsFromLayers(layers: LayerSource): ImageFactSource {
  return {
    describe(image) {
      const parsed = parseImageReference(image);
      if (!parsed.ok) {
        return { status: "unavailable", reason: `invalid image reference: ${parsed.error}` };
      }
      const info = layers.lookup(parsed.reference);
      if (info === undefined) {
        return { status: "pending" };
      }
      if (info.status === "failed") {
        return { status: "unavailable", reason: info.reason };
      }
      return {
        status: "known",
        platforms: info.platforms,
        sizeFor: (platform) => {
          const layerList = info.layersFor(platform);
          return layerList?.reduce((sum, layer) => sum + layer.size, 0);
        },
      };
    },
  };
}

/** A source without manifests: every image is pulled with the assumed size on any platform. */
export const NO_FACTS: ImageFactSource = {
  describe: () => ({ status: "unavailable", reason: "image manifests are not read" }),
};

/**
 * Wraps a source so that an image whose manifest stays pending for `waitSeconds` reads as
 * unavailable, and is then pulled with the assumed size rather than waited for forever.
 */
export function withManifestDeadline(
  source: ImageFactSource,
  waitSeconds: number,
  now: () => number = Date.now,
): ImageFactSource {
  const firstPending = new Map<string, number>();
  return {
    describe(image) {
      const facts = source.describe(image);
      if (facts.status !== "pending") {
        firstPending.delete(image);
        return facts;
      }
      const since = firstPending.get(image) ?? now();
      firstPending.set(image, since);
      return now() - since >= waitSeconds * 1000
        ? { status: "unavailable", reason: `manifest not fetched within ${waitSeconds} s` }
        : facts;
    },
  };
}

/** Bytes an image takes on a node: its size for the node's platform, else `assumedBytes`. */
export function imageBytesOn(
  facts: ImageFacts,
  node: Pick<NodeSummary, "operatingSystem" | "architecture">,
  assumedBytes: number,
): number {
  const { operatingSystem: os, architecture } = node;
  if (facts.status !== "known" || os === undefined || architecture === undefined) {
    return assumedBytes;
  }
  return facts.sizeFor({ os, architecture }) ?? assumedBytes;
}
