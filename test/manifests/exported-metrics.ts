// The metric names the webhook and the pre-pull controller export, read from a registry on which
// the real components registered their metrics, so alert rules and dashboards are checked
// against what /metrics serves and not against a list that could drift.
import { Registry } from "prom-client";

import { validateConfig } from "../../src/config.ts";
import { createInventoryMetrics } from "../../src/inventory/cluster-metrics.ts";
import { buildInventory } from "../../src/inventory/inventory.ts";
import { createLogger } from "../../src/logger.ts";
import { createControllerMetrics, createRecorderMetrics } from "../../src/prepull/metrics.ts";
import { LocalityRuntime } from "../../src/server/locality-runtime.ts";
import { createServerMetrics } from "../../src/server/metrics.ts";

/** Series Prometheus adds itself to every scrape target. */
const PROMETHEUS_SERIES = ["up", "scrape_duration_seconds", "scrape_samples_scraped"];

/** Every series name a query may select, histogram _bucket, _sum and _count included. */
export async function exportedSeriesNames(): Promise<Set<string>> {
  const registry = new Registry();
  createServerMetrics(2000, registry);
  const inventory = buildInventory([]).inventory;
  createInventoryMetrics(registry, () => inventory, ["nodes", "pods"]);
  createRecorderMetrics(registry);
  createControllerMetrics(registry);
  // Registers the manifest store, mirror health and hint metrics; nothing starts until start().
  const config = validateConfig(
    { mirror: { registries: { "docker.io": "mirror.example.com/dockerhub" } } },
    "metric names",
  );
  new LocalityRuntime({
    config,
    inventory: () => inventory,
    metrics: registry,
    logger: createLogger({ level: "silent" }),
  });

  const names = new Set(PROMETHEUS_SERIES);
  for (const metric of await registry.getMetricsAsJSON()) {
    names.add(metric.name);
    if (String(metric.type) === "histogram") {
      for (const suffix of ["_bucket", "_sum", "_count"]) {
        names.add(`${metric.name}${suffix}`);
      }
    }
  }
  return names;
}

// A selector's metric name: an identifier directly followed by "{" or "[", or any name in this
// project's namespace. PromQL functions are followed by "(", so they never match.
const SELECTED_NAME = /\b([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(?=[{[])|\b(kube_image_cache_[a-z0-9_]+)/g;
// Label names inside braces and after by/without, which the pattern above would also catch.
const LABEL_LISTS = /\{[^}]*\}|\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g;

/** Names the series a PromQL expression selects. */
export function selectedSeries(expr: string): string[] {
  const withoutLabels = expr.replace(LABEL_LISTS, (match) => (match.startsWith("{") ? "{}" : ""));
  const names = new Set<string>();
  for (const match of withoutLabels.matchAll(SELECTED_NAME)) {
    const name = match[1] ?? match[2];
    if (name !== undefined) {
      names.add(name);
    }
  }
  return [...names];
}
