// The background half of the locality hints: the manifest store, mirror health, the node layer
// index rebuilt as nodes and manifests change, and the record of hints issued. The admission
// path reads a context from it and never waits on it, except for registry.admissionBudgetMs.
import { Counter, Gauge, Histogram, type Registry } from "prom-client";

import type { MutationContext, ReviewOutcome } from "../admission/contract.ts";
import { reviewAdmission } from "../admission/review.ts";
import type { Config } from "../config.ts";
import { parseImageReference, type ImageReference } from "../image/reference.ts";
import type { Inventory } from "../inventory/inventory.ts";
import { podRequests } from "../inventory/pod-requests.ts";
import type { NodeLoad } from "../locality/load.ts";
import {
  buildNodeLayerIndexInSlices,
  EMPTY_LAYER_INDEX,
  nextEventLoopTurn,
  type NodeLayerIndex,
  type SliceOptions,
} from "../locality/node-layers.ts";
import type { Logger } from "../logger.ts";
import { MirrorHealth } from "../mirror/health.ts";
import { decideRewrite, mirrorHosts } from "../mirror/rules.ts";
import { arrayField, field } from "../object-fields.ts";
import { ManifestStore } from "../registry/manifest-store.ts";
import { cpuSpread } from "./cpu-spread.ts";

export interface LocalityRuntimeOptions {
  readonly config: Config;
  /** The current node inventory (a snapshot file, or the cluster watch). */
  readonly inventory: () => Inventory;
  /** Requested resources per node, when pods are watched. */
  readonly load?: () => NodeLoad | undefined;
  readonly metrics: Registry;
  readonly logger: Logger;
  /** How often the node layer index is rebuilt when nodes or manifests changed; default 5 s. */
  readonly indexIntervalMs?: number;
  /** Slicing of index rebuilds; default 2,000 node images a slice, one event-loop turn between. */
  readonly indexSlices?: Pick<SliceOptions, "imagesPerSlice" | "pause">;
  /** Called after each review that finished within the deadline; the cold-image recorder uses it. */
  readonly onReviewed?: (outcome: ReviewOutcome, body: unknown) => void;
}

const DEFAULT_INDEX_INTERVAL_MS = 5000;

/**
 * Owns the background work behind layer-aware, balanced hints. With registry.enabled false no
 * registry is contacted and hints match whole images; with mirrorHealth.enabled false mirrors
 * are not probed.
 */
export class LocalityRuntime {
  readonly store: ManifestStore | undefined;
  readonly health: MirrorHealth | undefined;
  readonly #options: LocalityRuntimeOptions;
  readonly #metrics: RuntimeMetrics;
  #index: NodeLayerIndex = EMPTY_LAYER_INDEX;
  #built = { version: -1, generation: -1 };
  #generation = 0;
  #timer: NodeJS.Timeout | undefined;
  // The rebuild in progress. refresh starts no other until it settles.
  #rebuild: Promise<void> | undefined;
  readonly #stopping = new AbortController();

  constructor(options: LocalityRuntimeOptions) {
    const { config, metrics, logger } = options;
    this.#options = options;
    this.health = config.mirrorHealth.enabled
      ? new MirrorHealth({
          hosts: mirrorHosts(config.mirror),
          registries: config.registries,
          settings: config.mirrorHealth,
          metrics,
          logger,
        })
      : undefined;
    this.store = config.registry.enabled
      ? new ManifestStore({
          registries: config.registries,
          settings: config.registry,
          locate: (image) => locateImage(image, config, this.#unavailable()),
          metrics,
          logger,
          labelledRegistries: new Set([...config.registries.keys(), ...mirrorHosts(config.mirror)]),
        })
      : undefined;
    this.store?.onUpdate(() => {
      this.#generation += 1;
    });
    this.#metrics = createRuntimeMetrics(metrics);
  }

  /** Starts mirror probes and the index rebuilds; the first rebuild runs now. */
  start(): void {
    this.health?.start();
    this.refresh();
    const interval = this.#options.indexIntervalMs ?? DEFAULT_INDEX_INTERVAL_MS;
    this.#timer = setInterval(() => this.refresh(), interval);
    this.#timer.unref();
  }

  /** Stops mirror probes and index rebuilds. A rebuild in progress ends at its next slice. */
  async stop(): Promise<void> {
    clearInterval(this.#timer);
    this.#stopping.abort(new Error("locality runtime stopped"));
    await Promise.all([this.#rebuild, this.health?.stop()]);
  }

  /** Returns the context of one admission: configuration, nodes, mirrors, layers and load. */
  context(): MutationContext {
    const load = this.#options.load?.();
    return {
      config: this.#options.config,
      inventory: this.#options.inventory(),
      unavailableMirrors: this.#unavailable(),
      ...(this.store === undefined ? {} : { layers: this.store, nodeLayers: this.#index }),
      ...(load === undefined ? {} : { load }),
    };
  }

  /**
   * Reviews one body: waits up to registry.admissionBudgetMs for the pod's manifests (default 0:
   * not at all), runs the pure pipeline, then records the hints it issued.
   */
  async review(body: unknown): Promise<ReviewOutcome> {
    const started = performance.now();
    const { registry, server } = this.#options.config;
    if (registry.admissionBudgetMs > 0 && this.store !== undefined) {
      await this.store.prefetch(podImagesOf(body), registry.admissionBudgetMs);
    }
    const outcome = reviewAdmission(body, this.context());
    // Past the deadline the server has already admitted the pod unchanged, so the hints of this
    // outcome were never sent and must not count against their nodes.
    if (performance.now() - started < server.deadlineMs) {
      this.record(outcome, body);
      this.#options.onReviewed?.(outcome, body);
    }
    return outcome;
  }

  /**
   * Starts a rebuild of the node layer index when the inventory or the manifest cache changed
   * since the last finished rebuild read them, unless a rebuild is in progress. Admissions read
   * the previous index until the new one is complete. A change made during a rebuild is not in
   * its index, so the first refresh after it ends starts another.
   */
  refresh(): void {
    const inventory = this.#options.inventory();
    const changed =
      this.#built.version !== inventory.version || this.#built.generation !== this.#generation;
    if (this.store !== undefined && changed && this.#rebuild === undefined) {
      this.#rebuild = this.#rebuildIndex(inventory, this.store).finally(() => {
        this.#rebuild = undefined;
      });
    }
    const load = this.#options.load?.();
    if (load !== undefined) {
      this.#metrics.cpuSpread.set(cpuSpread(inventory.nodes, load));
    }
  }

  /**
   * Records what an admission did: the warm-bytes ratio, and for real (not dry-run) requests the
   * pod's requests against each hinted node, split by weight, until the pod is scheduled.
   */
  record(outcome: ReviewOutcome, body: unknown): void {
    if (outcome.kind !== "reviewed" || outcome.result.skipReason !== undefined) {
      return;
    }
    const { result, request } = outcome;
    if (result.warmShare !== undefined) {
      this.#metrics.warmShare.observe(result.warmShare);
    }
    if (result.preferredNodes.length === 0 || request.dryRun) {
      return;
    }
    this.#metrics.podsHinted.inc();
    const load = this.#options.load?.();
    if (load === undefined) {
      return;
    }
    const requests = podRequests(field(field(body, "request"), "object"));
    const total = result.preferredNodes.reduce((sum, preference) => sum + preference.weight, 0);
    const lifetimeMs = this.#options.config.balance.inflightSeconds * 1000;
    for (const preference of result.preferredNodes) {
      const share = preference.weight / total;
      load.addHint(
        preference.node,
        { cpuMillis: requests.cpuMillis * share, memoryBytes: requests.memoryBytes * share },
        lifetimeMs,
      );
    }
  }

  /** Builds the index in slices, swaps it in, and records the time spent in the slices. */
  async #rebuildIndex(inventory: Inventory, source: ManifestStore): Promise<void> {
    const started = { version: inventory.version, generation: this.#generation };
    const pause = this.#options.indexSlices?.pause ?? nextEventLoopTurn;
    let busyMs = 0;
    let resumed = performance.now();
    const countedPause = async (): Promise<void> => {
      busyMs += performance.now() - resumed;
      await pause();
      resumed = performance.now();
    };
    try {
      const index = await buildNodeLayerIndexInSlices(inventory, source, {
        ...this.#options.indexSlices,
        pause: countedPause,
        signal: this.#stopping.signal,
      });
      busyMs += performance.now() - resumed;
      this.#index = index;
      this.#built = started;
      this.#metrics.indexBuild.observe(busyMs / 1000);
      this.#metrics.layerNodes.set(index.completeNodes);
    } catch (error: unknown) {
      if (!this.#stopping.signal.aborted) {
        // The next refresh tries again, because #built still names the previous inputs.
        this.#options.logger.error({ err: error }, "node layer index rebuild failed");
      }
    }
  }

  #unavailable(): ReadonlySet<string> {
    return this.health?.unavailableMirrors() ?? NONE;
  }
}

const NONE: ReadonlySet<string> = new Set();

/**
 * Where to read an image's manifest: from its mirror when the rules rewrite it (the mirror
 * caches what nodes pull), else from its own registry.
 */
export function locateImage(
  image: ImageReference,
  config: Config,
  unavailable: ReadonlySet<string>,
): ImageReference {
  const decision = decideRewrite(image, config.mirror, config.exclude.images, unavailable);
  return decision.rewritten ? decision.reference : image;
}

/** Images of a review's pod, for prefetching; invalid ones are left out. */
function podImagesOf(body: unknown): ImageReference[] {
  const spec = field(field(field(body, "request"), "object"), "spec");
  const images: ImageReference[] = [];
  for (const list of ["initContainers", "containers", "ephemeralContainers"]) {
    for (const container of arrayField(spec, list)) {
      const image = field(container, "image");
      const parsed = typeof image === "string" ? parseImageReference(image) : undefined;
      if (parsed?.ok === true) {
        images.push(parsed.reference);
      }
    }
  }
  return images;
}

interface RuntimeMetrics {
  readonly warmShare: Histogram;
  readonly podsHinted: Counter;
  readonly cpuSpread: Gauge;
  readonly indexBuild: Histogram;
  readonly layerNodes: Gauge;
}

function createRuntimeMetrics(registry: Registry): RuntimeMetrics {
  return {
    warmShare: new Histogram({
      name: "kube_image_cache_warm_bytes_ratio",
      help: "Share of an admitted pod's image bytes already held by its best feasible node: the cache hit rate of the hints.",
      buckets: [0, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99, 1],
      registers: [registry],
    }),
    podsHinted: new Counter({
      name: "kube_image_cache_pods_hinted_total",
      help: "Pods given at least one preferred node term (dry-run requests excluded).",
      registers: [registry],
    }),
    cpuSpread: new Gauge({
      name: "kube_image_cache_requested_cpu_spread",
      help: "Coefficient of variation of requested CPU share across nodes; hints should not raise it.",
      registers: [registry],
    }),
    indexBuild: new Histogram({
      name: "kube_image_cache_layer_index_build_seconds",
      help: "Time the event loop spent rebuilding the node layer index after nodes or manifests changed, summed over the slices of the rebuild.",
      buckets: [0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    }),
    layerNodes: new Gauge({
      name: "kube_image_cache_layer_index_complete_nodes",
      help: "Nodes whose every reported image has manifest data in the layer index.",
      registers: [registry],
    }),
  };
}
