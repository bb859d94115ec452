// Resolving one image to its layers per platform: tag to digest, the manifest or index by digest,
// each platform's manifest of an index, and the config of a single-platform manifest.
import type { ImageReference } from "../image/reference.ts";
import type { Layer, Platform } from "../locality/layers.ts";
import type { FetchedManifest, RegistryClient } from "./client.ts";
import { isDigest } from "./digest.ts";
import type { LruCache } from "./lru.ts";
import type { Descriptor } from "./manifest.ts";

/** The layers of one platform of an image. */
export interface PlatformLayers {
  readonly platform: Platform;
  readonly layers: readonly Layer[];
}

/** An image resolved by its top-level digest (of an index or of a single manifest). */
export interface ResolvedImage {
  readonly digest: string;
  readonly entries: readonly PlatformLayers[];
  /** Bytes of manifest JSON and image configs fetched for it: its weight in the cache. */
  readonly bytes: number;
}

// Platform manifests of one index fetched at once. Indexes list a handful of platforms; this
// keeps one image from opening a connection per entry on a large index.
const INDEX_ENTRY_CONCURRENCY = 4;

/** Fetches images through a client, reusing resolved digests and image config platforms. */
export class ImageResolver {
  readonly #client: RegistryClient;
  readonly #images: LruCache<ResolvedImage>;
  readonly #configPlatforms: LruCache<Platform>;

  /**
   * `images` caches resolved images by digest with their byte size as weight;
   * `configPlatforms` caches the platform named by an image config, by the config's digest.
   */
  constructor(
    client: RegistryClient,
    images: LruCache<ResolvedImage>,
    configPlatforms: LruCache<Platform>,
  ) {
    this.#client = client;
    this.#images = images;
    this.#configPlatforms = configPlatforms;
  }

  /**
   * Resolves an image. A tag is resolved with HEAD, which returns the digest without the body,
   * so an image already cached under that digest is not fetched again; Docker Hub also counts
   * manifest GETs, not HEADs, against its pull rate limit. Throws RegistryError subclasses.
   */
  async resolve(image: ImageReference): Promise<ResolvedImage> {
    let digest = image.digest;
    let fetched: FetchedManifest | undefined;
    if (digest === undefined) {
      const head = await this.#client.headManifest(image);
      // Docker-Content-Digest is optional (OCI distribution spec), so fall back to GET by tag.
      if (isDigest(head.digest)) {
        digest = head.digest;
      } else {
        fetched = await this.#client.getManifest(image);
        digest = fetched.digest;
      }
    }

    const cached = this.#images.get(digest);
    if (cached !== undefined) {
      return cached;
    }
    fetched ??= await this.#client.getManifest({ ...image, digest });
    const resolved = await this.#expand(image, fetched);
    this.#images.set(digest, resolved, resolved.bytes);
    return resolved;
  }

  async #expand(image: ImageReference, fetched: FetchedManifest): Promise<ResolvedImage> {
    const document = fetched.document;
    if (document.kind === "manifest") {
      const config = await this.#platformOf(image, document.config);
      const entries = [{ platform: config.platform, layers: document.layers }];
      return { digest: fetched.digest, entries, bytes: fetched.bytes + config.bytes };
    }

    const children = await mapWithLimit(document.entries, INDEX_ENTRY_CONCURRENCY, (entry) =>
      this.#platformManifest(image, entry.digest, entry.platform),
    );
    const entries = children.flatMap((child) => (child === undefined ? [] : [child.entry]));
    const bytes = children.reduce((sum, child) => sum + (child?.bytes ?? 0), fetched.bytes);
    return { digest: fetched.digest, entries, bytes };
  }

  /**
   * Fetches one platform manifest of an index. The platform comes from the index entry, or from
   * the image config when the entry names none. A nested index is skipped (undefined), since
   * runtimes do not descend into one either.
   */
  async #platformManifest(
    image: ImageReference,
    digest: string,
    platform: Platform | undefined,
  ): Promise<{ entry: PlatformLayers; bytes: number } | undefined> {
    const child = await this.#client.getManifest({ ...image, digest });
    if (child.document.kind !== "manifest") {
      return undefined;
    }
    const layers = child.document.layers;
    if (platform !== undefined) {
      return { entry: { platform, layers }, bytes: child.bytes };
    }
    const config = await this.#platformOf(image, child.document.config);
    return { entry: { platform: config.platform, layers }, bytes: child.bytes + config.bytes };
  }

  async #platformOf(
    image: ImageReference,
    config: Descriptor,
  ): Promise<{ platform: Platform; bytes: number }> {
    const cached = this.#configPlatforms.get(config.digest);
    if (cached !== undefined) {
      return { platform: cached, bytes: config.size };
    }
    const fetched = await this.#client.getImagePlatform(image, config);
    this.#configPlatforms.set(config.digest, fetched.platform);
    return fetched;
  }
}

/** Maps `items` through `work` with at most `limit` calls in flight; keeps the order. */
async function mapWithLimit<T, R>(
  items: readonly T[],
  limit: number,
  work: (item: T) => Promise<R>,
): Promise<R[]> {
  const results: R[] = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const index = next;
      next += 1;
      results[index] = await work(items[index] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}
