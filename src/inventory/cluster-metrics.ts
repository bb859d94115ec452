// Prometheus metrics of the live inventory: its size, and the state of each list-and-watch loop.
import { Counter, Gauge, type Registry } from "prom-client";

import type { Inventory } from "./inventory.ts";

/** The recorder of list-and-watch events, by resource ("nodes" or "pods"). */
export interface InventoryMetrics {
  restarted(resource: string): void;
  connected(resource: string, connected: boolean): void;
  synced(resource: string): void;
}

const NO_METRICS: InventoryMetrics = {
  restarted: () => undefined,
  connected: () => undefined,
  synced: () => undefined,
};

/**
 * Registers the inventory metrics in `registry`; without one, returns metrics that record
 * nothing. The size gauges read `inventory` when scraped.
 */
export function createInventoryMetrics(
  registry: Registry | undefined,
  inventory: () => Inventory,
  resources: readonly string[],
): InventoryMetrics {
  if (registry === undefined) {
    return NO_METRICS;
  }
  registerSizeGauges(registry, inventory);

  const restarts = new Counter({
    name: "kube_image_cache_watch_restarts_total",
    help: "Lists or watches started again after the previous one ended, by resource.",
    labelNames: ["resource"] as const,
    registers: [registry],
  });
  const connected = new Gauge({
    name: "kube_image_cache_watch_connected",
    help: "1 while a watch connection to the API server is open, by resource; else 0.",
    labelNames: ["resource"] as const,
    registers: [registry],
  });
  const lastSync = new Gauge({
    name: "kube_image_cache_inventory_last_sync_timestamp_seconds",
    help: "Unix time of the last completed list or received watch event or bookmark, by resource.",
    labelNames: ["resource"] as const,
    registers: [registry],
  });
  // Start every series so dashboards and alerts see zeros before the first event.
  for (const resource of resources) {
    restarts.labels(resource).inc(0);
    connected.labels(resource).set(0);
  }

  return {
    restarted: (resource) => restarts.labels(resource).inc(),
    connected: (resource, isConnected) => connected.labels(resource).set(isConnected ? 1 : 0),
    synced: (resource) => lastSync.labels(resource).set(Date.now() / 1000),
  };
}

function registerSizeGauges(registry: Registry, inventory: () => Inventory): void {
  new Gauge({
    name: "kube_image_cache_inventory_nodes",
    help: "Nodes in the node inventory.",
    registers: [registry],
    collect() {
      this.set(inventory().nodes.length);
    },
  });
  new Gauge({
    name: "kube_image_cache_inventory_images",
    help: "status.images entries, summed over the nodes in the node inventory.",
    registers: [registry],
    collect() {
      this.set(inventory().nodes.reduce((sum, node) => sum + node.imageCount, 0));
    },
  });
}
