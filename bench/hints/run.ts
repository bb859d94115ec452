// Hint computation per admission at 50, 500 and 5,000 nodes with 50 images each, and the
// inventory's memory at 5,000 nodes with 100 images each.
//
// Run: node --expose-gc --import tsx bench/hints/run.ts
import { parseImageReference } from "../../src/image/reference.ts";
import { validateConfig } from "../../src/config.ts";
import { buildInventory } from "../../src/inventory/inventory.ts";
import { planHints, type HintInputs } from "../../src/locality/hints.ts";
import { buildNodeLayerIndex } from "../../src/locality/node-layers.ts";
import type { PodImage } from "../../src/locality/overlap.ts";
import {
  buildCatalog,
  buildNodes,
  catalogLayerSource,
  seededRandom,
  zipfPicker,
} from "./cluster.ts";

const CATALOG_SIZE = 400;
const BASES = 8;
const ADMISSIONS = 3000;
const WARMUP = 500;

function percentile(sorted: readonly number[], fraction: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(fraction * sorted.length))] ?? 0;
}

interface Measurement {
  readonly p50: number;
  readonly p99: number;
  readonly layerBasis: number;
  /** First admission of each distinct image: the ranking is computed, not read from cache. */
  readonly uncachedP50: number;
  readonly uncachedP99: number;
}

function measure(nodeCount: number): Measurement {
  const random = seededRandom(42);
  const catalog = buildCatalog(CATALOG_SIZE, BASES, random);
  const { inventory } = buildInventory(buildNodes(nodeCount, 50, catalog, random));
  const layers = catalogLayerSource(catalog);
  const inputs: HintInputs = {
    config: validateConfig({}, "bench"),
    inventory,
    layers,
    nodeLayers: buildNodeLayerIndex(inventory, layers),
  };
  const pick = zipfPicker(CATALOG_SIZE, seededRandom(7));
  const pods: PodImage[][] = Array.from({ length: ADMISSIONS + WARMUP }, () => {
    const parsed = parseImageReference(catalog[pick()]?.name ?? "");
    return parsed.ok ? [{ original: parsed.reference }] : [];
  });

  const times: number[] = [];
  let layerBasis = 0;
  pods.forEach((images, index) => {
    const start = process.hrtime.bigint();
    const plan = planHints({}, images, inputs);
    const elapsed = Number(process.hrtime.bigint() - start) / 1e6;
    if (index >= WARMUP) {
      times.push(elapsed);
      layerBasis += plan.basis === "layers" ? 1 : 0;
    }
  });
  times.sort((left, right) => left - right);
  const uncached = measureUncached(catalog, inputs);
  return {
    p50: percentile(times, 0.5),
    p99: percentile(times, 0.99),
    layerBasis,
    uncachedP50: percentile(uncached, 0.5),
    uncachedP99: percentile(uncached, 0.99),
  };
}

/** Times one admission of each catalog image not yet admitted in this inventory version. */
function measureUncached(catalog: ReturnType<typeof buildCatalog>, inputs: HintInputs): number[] {
  const times: number[] = [];
  for (const image of catalog.slice(0, 200)) {
    const parsed = parseImageReference(image.name.replace(":v1", ":uncached"));
    const original = parseImageReference(image.name);
    if (!parsed.ok || !original.ok) {
      continue;
    }
    // A pod of two images, one of them new, so its ranking cannot be cached from earlier pods.
    const images = [{ original: original.reference }, { original: parsed.reference }];
    const start = process.hrtime.bigint();
    planHints({}, images, inputs);
    times.push(Number(process.hrtime.bigint() - start) / 1e6);
  }
  return times.sort((left, right) => left - right);
}

function inventoryMemory(nodeCount: number, perNode: number): number {
  const random = seededRandom(42);
  const catalog = buildCatalog(2000, BASES, random);
  const nodes = buildNodes(nodeCount, perNode, catalog, random);
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  const before = process.memoryUsage().heapUsed;
  const { inventory } = buildInventory(nodes);
  gc?.();
  const after = process.memoryUsage().heapUsed;
  if (inventory.nodes.length !== nodeCount) {
    throw new Error("inventory lost nodes");
  }
  return (after - before) / 1e6;
}

const results = [50, 500, 5000].map((nodes) => ({ nodes, ...measure(nodes) }));
for (const result of results) {
  console.log(
    `nodes=${result.nodes} p50=${result.p50.toFixed(3)}ms p99=${result.p99.toFixed(3)}ms layer-basis=${result.layerBasis}/${ADMISSIONS} uncached p50=${result.uncachedP50.toFixed(3)}ms p99=${result.uncachedP99.toFixed(3)}ms`,
  );
}
const ratio = (results[2]?.p50 ?? 0) / (results[0]?.p50 ?? 1);
console.log(`p50 ratio 5000/50 nodes: ${ratio.toFixed(2)} (target <= 1.3)`);
console.log(
  `inventory heap at 5000 nodes x 100 images: ${inventoryMemory(5000, 100).toFixed(1)} MB (target < 200 MB)`,
);
