// Layer data the locality decisions read: which layers an image has on a platform. The registry
// module fills it in the background; the admission path only reads what is already cached.
import type { ImageReference } from "../image/reference.ts";

/** An OS and CPU architecture, as in node.status.nodeInfo and OCI image indexes. */
export interface Platform {
  readonly os: string;
  readonly architecture: string;
  /** CPU variant ("v8" for arm64), when the index names one. */
  readonly variant?: string;
}

/** One compressed layer blob of an image. */
export interface Layer {
  readonly digest: string;
  /** Compressed size in bytes, as the manifest states it: what a pull transfers. */
  readonly size: number;
}

/** Manifest data of one image (a tag or digest in one repository), as the registry returned it. */
export type ImageManifestInfo =
  | {
      readonly status: "resolved";
      /** Platforms the image can run on; one entry for a single-platform manifest. */
      readonly platforms: readonly Platform[];
      /** Layers for a platform, or undefined when the image does not support it. */
      readonly layersFor: (platform: Platform) => readonly Layer[] | undefined;
    }
  | {
      /** The registry responded that the image does not exist or may not be read. */
      readonly status: "failed";
      readonly reason: string;
    };

/**
 * A synchronous, non-blocking view of cached manifest data. lookup never waits on the network:
 * a miss returns undefined and may schedule a background fetch, so a later admission of the same
 * image gets layer hints.
 */
export interface LayerSource {
  lookup(image: ImageReference): ImageManifestInfo | undefined;
}

/** A source with no data: every lookup misses. Hints then match whole images. */
export const NO_LAYERS: LayerSource = { lookup: () => undefined };
