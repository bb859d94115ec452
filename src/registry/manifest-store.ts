// The manifest store: a LayerSource over in-memory caches that background fetches fill. The
// admission path calls lookup(), which only reads the caches; a miss schedules a fetch.
//
// Caches: resolved images by digest (content-addressed, bounded by bytes, least recently used
// evicted), image config platforms by digest, tag -> digest for registry.tagTtlSeconds, and
// failures for a short time so a missing image is not fetched on every admission.
import type { Registry } from "prom-client";

import type { Config } from "../config.ts";
import { formatName, formatPullReference, type ImageReference } from "../image/reference.ts";
import type { ImageManifestInfo, LayerSource, Platform } from "../locality/layers.ts";
import type { Logger } from "../logger.ts";
import { RegistryClient } from "./client.ts";
import { ManifestTooLargeError, RegistryError, RegistryUnavailableError } from "./errors.ts";
import { FetchQueue } from "./fetch-queue.ts";
import { ImageResolver, type ResolvedImage } from "./image-resolver.ts";
import { LruCache } from "./lru.ts";
import { createRegistryMetrics, type LookupResult, type RegistryMetrics } from "./metrics.ts";
import { selectForPlatform } from "./platform.ts";

/** Settings and collaborators of a ManifestStore. */
export interface ManifestStoreOptions {
  /** Access settings per registry host (plain HTTP, credentials files). */
  readonly registries: Config["registries"];
  readonly settings: Config["registry"];
  /**
   * Maps an image to the reference to fetch it from: its mirror when the rules rewrite it, else
   * the image itself. Called on every lookup, so it must be cheap and must not throw.
   */
  readonly locate: (image: ImageReference) => ImageReference;
  /** Prometheus registry the store's metrics are registered on. */
  readonly metrics: Registry;
  readonly logger: Logger;
  /** Hosts that get their own `registry` metric label; default: the keys of `registries`. */
  readonly labelledRegistries?: ReadonlySet<string>;
  /** Background fetches running at once; default 4. */
  readonly maxConcurrentFetches?: number;
  /** How long a failed fetch is remembered before the image is tried again; default 60 s. */
  readonly failureTtlMs?: number;
}

/** A fetch that finished and changed what lookup returns for `image` (as fetched, located). */
export interface ManifestUpdate {
  readonly image: ImageReference;
  readonly info: ImageManifestInfo;
}

interface TagEntry {
  readonly digest: string;
  readonly expiresAt: number;
}

interface FailureEntry {
  readonly error: RegistryError;
  readonly retryAt: number;
}

const DEFAULT_CONCURRENCY = 4;
const DEFAULT_FAILURE_TTL_MS = 60_000;
// Count bounds of the small caches; entries are tens of bytes, so these cost a few MiB at most.
const MAX_TAG_ENTRIES = 50_000;
const MAX_FAILURE_ENTRIES = 10_000;
const MAX_CONFIG_PLATFORMS = 50_000;
// Misses waiting for a fetch slot. Past this, a miss is not queued; a later lookup retries it.
const MAX_QUEUED_FETCHES = 1_000;

/** Cached manifest data for layer hints, filled in the background. */
export class ManifestStore implements LayerSource {
  readonly #options: ManifestStoreOptions;
  readonly #logger: Logger;
  readonly #metrics: RegistryMetrics;
  readonly #images: LruCache<ResolvedImage>;
  readonly #tags = new LruCache<TagEntry>(MAX_TAG_ENTRIES);
  readonly #failures = new LruCache<FailureEntry>(MAX_FAILURE_ENTRIES);
  readonly #resolver: ImageResolver;
  readonly #queue: FetchQueue;
  readonly #infos = new WeakMap<ResolvedImage, ImageManifestInfo>();
  readonly #listeners = new Set<(update: ManifestUpdate) => void>();

  constructor(options: ManifestStoreOptions) {
    this.#options = options;
    this.#logger = options.logger.child({ component: "manifest-store" });
    this.#images = new LruCache<ResolvedImage>(options.settings.manifestCacheBytes);
    this.#metrics = createRegistryMetrics(
      options.metrics,
      options.labelledRegistries ?? new Set(options.registries.keys()),
      () => this.#images.weight,
    );
    const client = new RegistryClient({
      registries: options.registries,
      timeoutMs: options.settings.timeoutMs,
      observe: (event) => this.#metrics.observeRequest(event),
    });
    this.#resolver = new ImageResolver(client, this.#images, new LruCache(MAX_CONFIG_PLATFORMS));
    const concurrency = options.maxConcurrentFetches ?? DEFAULT_CONCURRENCY;
    this.#queue = new FetchQueue(concurrency, MAX_QUEUED_FETCHES);
  }

  /**
   * Returns what the caches hold for the image, without waiting. A miss, an expired tag or an
   * expired failure schedules a background fetch; until it finishes, an expired tag keeps its
   * last digest. A failure that may pass (timeout, unavailable registry) returns what the caches
   * had before it, usually nothing, and holds off the next fetch for the failure TTL.
   */
  lookup(image: ImageReference): ImageManifestInfo | undefined {
    const located = this.#options.locate(image);
    const { info, stale } = this.#read(located);
    this.#metrics.recordLookup(lookupResult(info));
    if (stale) {
      // The returned promise resolves when the fetch ends and never rejects: nothing waits here.
      void this.#schedule(located);
    }
    return info;
  }

  /**
   * Fetches the images that are not cached (or whose tags expired) and resolves when all of them
   * are settled or after `budgetMs`, whichever is first. With a budget of 0 it only schedules the
   * fetches. Never rejects.
   */
  async prefetch(images: readonly ImageReference[], budgetMs: number): Promise<void> {
    const waits: Promise<void>[] = [];
    for (const image of images) {
      const located = this.#options.locate(image);
      const pending = this.#read(located).stale
        ? this.#schedule(located)
        : this.#queue.pending(imageKey(located));
      if (pending !== undefined) {
        waits.push(pending);
      }
    }
    if (waits.length === 0 || budgetMs <= 0) {
      return;
    }

    let timer: NodeJS.Timeout | undefined;
    const budget = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, budgetMs);
    });
    await Promise.race([Promise.all(waits), budget]);
    clearTimeout(timer);
  }

  /**
   * Calls `listener` after each background fetch that changed what lookup returns for an image,
   * e.g. to rebuild node layer indexes. Returns a function that removes the listener.
   */
  onUpdate(listener: (update: ManifestUpdate) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Reads the caches for a located image; `stale` is true when a fetch is due. */
  #read(located: ImageReference): { info: ImageManifestInfo | undefined; stale: boolean } {
    const now = performance.now();
    const failure = this.#failures.peek(imageKey(located));
    const retryDue = failure === undefined || now >= failure.retryAt;
    if (failure !== undefined && failure.error.isDefinite) {
      return { info: { status: "failed", reason: failure.error.message }, stale: retryDue };
    }

    const tag = located.digest === undefined ? this.#tags.peek(tagKey(located)) : undefined;
    const digest = located.digest ?? tag?.digest;
    const resolved = digest === undefined ? undefined : this.#images.get(digest);
    const fresh = resolved !== undefined && (tag === undefined || now < tag.expiresAt);
    return { info: resolved && this.#infoOf(resolved), stale: !fresh && retryDue };
  }

  #schedule(located: ImageReference): Promise<void> | undefined {
    const key = imageKey(located);
    const scheduled = this.#queue.schedule(key, () => this.#fetch(located));
    if (scheduled === undefined) {
      this.#logger.debug({ image: key }, "fetch queue full; image left for a later lookup");
    }
    return scheduled;
  }

  async #fetch(located: ImageReference): Promise<void> {
    const before = signature(this.#read(located).info, this.#digestOf(located));
    try {
      const resolved = await this.#resolver.resolve(located);
      this.#checkCached(located, resolved);
      if (located.digest === undefined) {
        const expiresAt = performance.now() + this.#options.settings.tagTtlSeconds * 1000;
        this.#tags.set(tagKey(located), { digest: resolved.digest, expiresAt });
      }
      this.#failures.delete(imageKey(located));
    } catch (error: unknown) {
      this.#recordFailure(located, error);
    }

    const { info } = this.#read(located);
    if (info !== undefined && signature(info, this.#digestOf(located)) !== before) {
      this.#notify({ image: located, info });
    }
  }

  /**
   * Throws ManifestTooLargeError when the image was too large for the cache to keep, so it is
   * reported as failed instead of being fetched again on every lookup.
   */
  #checkCached(located: ImageReference, resolved: ResolvedImage): void {
    if (this.#images.peek(resolved.digest) !== undefined) {
      return;
    }
    const limit = this.#options.settings.manifestCacheBytes;
    throw new ManifestTooLargeError(
      { registry: located.domain, image: formatPullReference(located) },
      `its manifests and configs take ${resolved.bytes} bytes, more than registry.manifestCacheBytes (${limit}); raise that limit to get layer hints for it`,
    );
  }

  #recordFailure(located: ImageReference, error: unknown): void {
    const failure =
      error instanceof RegistryError
        ? error
        : new RegistryUnavailableError(
            { registry: located.domain, image: formatPullReference(located) },
            `unexpected error: ${error instanceof Error ? error.message : String(error)}`,
            { cause: error },
          );
    const retryAt = performance.now() + (this.#options.failureTtlMs ?? DEFAULT_FAILURE_TTL_MS);
    this.#failures.set(imageKey(located), { error: failure, retryAt });
    this.#metrics.recordError(located.domain, failure.kind);
    // One line per image per failure TTL at most, since the failure cache holds off refetches.
    // Errors other than RegistryError are bugs, so they are logged at error level.
    const level = error instanceof RegistryError ? "warn" : "error";
    this.#logger[level](
      { err: failure, image: failure.image, registry: failure.registry, kind: failure.kind },
      "manifest fetch failed; layer hints for this image are unavailable until a retry succeeds",
    );
  }

  #notify(update: ManifestUpdate): void {
    for (const listener of this.#listeners) {
      try {
        listener(update);
      } catch (error: unknown) {
        this.#logger.error({ err: error }, "manifest update listener threw");
      }
    }
  }

  #digestOf(located: ImageReference): string | undefined {
    return located.digest ?? this.#tags.peek(tagKey(located))?.digest;
  }

  /** One info object per resolved image, so repeated lookups allocate nothing. */
  #infoOf(resolved: ResolvedImage): ImageManifestInfo {
    let info = this.#infos.get(resolved);
    if (info === undefined) {
      const entries = resolved.entries;
      info = {
        status: "resolved",
        platforms: entries.map((entry) => entry.platform),
        layersFor: (platform: Platform) => selectForPlatform(entries, platform)?.layers,
      };
      this.#infos.set(resolved, info);
    }
    return info;
  }
}

/** Cache key of an image: by digest when it has one (runtimes ignore the tag then), else tag. */
function imageKey(image: ImageReference): string {
  return image.digest === undefined ? tagKey(image) : `${formatName(image)}@${image.digest}`;
}

function tagKey(image: ImageReference): string {
  return `${formatName(image)}:${image.tag ?? "latest"}`;
}

function lookupResult(info: ImageManifestInfo | undefined): LookupResult {
  if (info === undefined) {
    return "miss";
  }
  return info.status === "resolved" ? "hit" : "failed";
}

function signature(info: ImageManifestInfo | undefined, digest: string | undefined): string {
  if (info === undefined) {
    return "";
  }
  return info.status === "resolved" ? `resolved ${digest ?? ""}` : `failed ${info.reason}`;
}
