// Sources of dry-run's context: the configuration, nodes from a snapshot file or one list
// of the cluster, and, unless --offline, the manifests of the images involved, fetched once
// with timeouts so layer-level hints can be shown.
import { Registry } from "prom-client";

import type { MutationContext } from "../admission/contract.ts";
import { defaultConfig, loadConfig } from "../config.ts";
import { parseImageReference, type ImageReference } from "../image/reference.ts";
import { buildInventory, type Inventory } from "../inventory/inventory.ts";
import { loadNodeSnapshot } from "../inventory/snapshot.ts";
import { buildNodeLayerIndex } from "../locality/node-layers.ts";
import { createLogger } from "../logger.ts";
import { arrayField, field } from "../object-fields.ts";
import { ManifestStore } from "../registry/manifest-store.ts";
import { locateImage } from "../server/locality-runtime.ts";
import { classifyDocuments, valueAtPath } from "./workloads.ts";

/** Sources of nodes for dry-run, and whether it may contact registries. */
export interface ContextSources {
  readonly configPath?: string;
  readonly nodesPath?: string;
  readonly kubeconfigPath?: string;
  readonly kubeContext?: string;
  readonly offline: boolean;
}

/** Builds the context for the given input documents. */
export async function loadDryRunContext(
  sources: ContextSources,
  documents: readonly unknown[],
): Promise<MutationContext> {
  const config =
    sources.configPath === undefined ? defaultConfig() : loadConfig(sources.configPath);
  const inventory = await loadInventory(sources);
  // Without nodes there is nothing to match layers against, so no registry is contacted.
  if (sources.offline || !config.registry.enabled || inventory.nodes.length === 0) {
    return { config, inventory };
  }
  const store = new ManifestStore({
    registries: config.registries,
    settings: config.registry,
    locate: (image) => locateImage(image, config, new Set()),
    metrics: new Registry(),
    // A failed fetch shows in the output as the basis "images", so the store's per-image
    // warnings are not printed; errors still go to stderr.
    logger: createLogger({ level: "error", destination: process.stderr }),
  });
  const images = [...podImages(documents), ...nodeImages(inventory)];
  // Every request has its own timeout; twice that lets an index and its platform manifests
  // arrive one after the other.
  await store.prefetch(images, 2 * config.registry.timeoutMs);
  return { config, inventory, layers: store, nodeLayers: buildNodeLayerIndex(inventory, store) };
}

async function loadInventory(sources: ContextSources): Promise<Inventory> {
  if (sources.nodesPath !== undefined) {
    return loadNodeSnapshot(sources.nodesPath);
  }
  if (sources.kubeconfigPath !== undefined) {
    // The Kubernetes client takes seconds to load, so it is imported only when needed.
    const { loadClusterInventoryOnce } = await import("../inventory/cluster.ts");
    return loadClusterInventoryOnce(sources.kubeconfigPath, sources.kubeContext);
  }
  return buildInventory([]).inventory;
}

/** Container images of every pod, pod template and AdmissionReview in the input. */
function podImages(documents: readonly unknown[]): ImageReference[] {
  const images: ImageReference[] = [];
  for (const item of classifyDocuments(documents)) {
    const pod =
      item.type === "pod"
        ? item.object
        : item.type === "workload"
          ? valueAtPath(item.object, item.templatePath)
          : item.type === "review"
            ? field(field(item.object, "request"), "object")
            : undefined;
    for (const list of ["initContainers", "containers", "ephemeralContainers"]) {
      for (const container of arrayField(field(pod, "spec"), list)) {
        const image = field(container, "image");
        const parsed = typeof image === "string" ? parseImageReference(image) : undefined;
        if (parsed?.ok === true) {
          images.push(parsed.reference);
        }
      }
    }
  }
  return images;
}

/** Returns one name per node image entry, a digest name where there is one. */
function nodeImages(inventory: Inventory): ImageReference[] {
  const seen = new Set<ImageReference>();
  for (const node of inventory.nodes) {
    for (const entry of inventory.imagesOf(node.name)) {
      const chosen =
        entry.references.find((reference) => reference.digest !== undefined) ?? entry.references[0];
      if (chosen !== undefined) {
        seen.add(chosen);
      }
    }
  }
  return [...seen];
}
