// Prometheus metrics of the manifest store and its registry calls, registered on a registry the
// caller owns (the server's), so several stores can live in one process as tests need.
import { Counter, Gauge, Histogram, type Registry } from "prom-client";

import { REGISTRY_ERROR_KINDS, type RegistryErrorKind } from "./errors.ts";
import type { RequestEvent } from "./http.ts";

/** Result of one lookup: cached layers, a cached failure, or nothing cached yet. */
export type LookupResult = "hit" | "failed" | "miss";

/** Label value for registries outside the configured set, to bound the label's cardinality. */
export const OTHER_REGISTRY = "other";

// Seconds. Registry calls on a network take milliseconds to seconds; the last bucket is the
// longest timeout registry.timeoutMs allows.
const REQUEST_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

/** The store's metrics. recordLookup runs on the admission path and costs a map lookup. */
export interface RegistryMetrics {
  recordLookup(result: LookupResult): void;
  observeRequest(event: RequestEvent): void;
  recordError(registry: string, kind: RegistryErrorKind): void;
}

/**
 * Registers the metrics on `registry`. Image names come from pods, so any host can appear; only
 * hosts in `labelledRegistries` get their own `registry` label value, the rest share "other".
 * `cacheBytes` is read at scrape time for the cache size gauge.
 */
export function createRegistryMetrics(
  registry: Registry,
  labelledRegistries: ReadonlySet<string>,
  cacheBytes: () => number,
): RegistryMetrics {
  const lookups = new Counter({
    name: "kube_image_cache_layer_cache_lookups_total",
    help: "Layer lookups on the admission path, by result: hit, failed (cached failure) or miss.",
    labelNames: ["result"] as const,
    registers: [registry],
  });
  for (const result of ["hit", "failed", "miss"] as const) {
    lookups.labels(result).inc(0);
  }
  const duration = new Histogram({
    name: "kube_image_cache_registry_request_duration_seconds",
    help: "Duration of HTTP requests to registries and token services, by registry and operation.",
    labelNames: ["registry", "operation"] as const,
    buckets: REQUEST_BUCKETS,
    registers: [registry],
  });
  const errors = new Counter({
    name: "kube_image_cache_registry_errors_total",
    help: "Failed manifest fetches, by registry and kind of error.",
    labelNames: ["registry", "kind"] as const,
    registers: [registry],
  });
  new Gauge({
    name: "kube_image_cache_manifest_cache_bytes",
    help: "Bytes of manifest JSON and image configs behind the cached images.",
    registers: [registry],
    collect() {
      this.set(cacheBytes());
    },
  });

  const label = (host: string): string => (labelledRegistries.has(host) ? host : OTHER_REGISTRY);
  for (const host of labelledRegistries) {
    for (const kind of REGISTRY_ERROR_KINDS) {
      errors.labels(host, kind).inc(0);
    }
  }
  return {
    recordLookup: (result) => lookups.labels(result).inc(),
    observeRequest: (event) =>
      duration.labels(label(event.registry), event.operation).observe(event.seconds),
    recordError: (host, kind) => errors.labels(label(host), kind).inc(),
  };
}
