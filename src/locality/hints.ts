// Hint planning: which warm nodes a pod is steered toward, on what basis (shared layers or
// whole images), filtered by feasibility and, with load data, by spare capacity.
import type { Config } from "../config.ts";
import { formatReference } from "../image/reference.ts";
import type { Inventory, NodeSummary } from "../inventory/inventory.ts";
import { podRequests } from "../inventory/pod-requests.ts";
import { arrayField, field, stringField } from "../object-fields.ts";
import {
  choosePreferredNodes,
  heldShare,
  type NodePreference,
  type ScoredNode,
} from "./affinity.ts";
import { isFeasible, readConstraints, type PodConstraints } from "./feasibility.ts";
import { computeLayerOverlap, podLayersFor } from "./layer-overlap.ts";
import type { LayerSource, Platform } from "./layers.ts";
import type { NodeLoadView } from "./load.ts";
import { hasLayerCoverage, platformOf, type NodeLayerIndex } from "./node-layers.ts";
import { withSpareCapacity } from "./spare-capacity.ts";
import { coldImages, computeOverlap, type PodImage } from "./overlap.ts";

/** Inputs of hint planning besides the pod. */
export interface HintInputs {
  readonly config: Config;
  readonly inventory: Inventory;
  readonly layers?: LayerSource;
  readonly nodeLayers?: NodeLayerIndex;
  readonly load?: NodeLoadView;
  /**
   * Varies the choice among equally warm nodes from pod to pod (the server passes the request
   * uid), so the replicas of one workload are not all steered to the same few nodes.
   */
  readonly tieBreakSeed?: string;
}

export type HintBasis = "layers" | "images" | "none";

export interface HintPlan {
  readonly preferences: readonly NodePreference[];
  readonly reason: string;
  readonly basis: HintBasis;
  /** Rewritten references of images no node reports, for pre-pulling. */
  readonly cold: readonly string[];
  /** Share of the pod's bytes already on the best feasible node (the warm-bytes ratio). */
  readonly warmShare?: number;
}

// A node holding at least this share of the pod's bytes counts as already warm for it.
const WARM_SHARE = 0.9;

/** Plans the preferred nodes of one pod; never throws on malformed specs. */
export function planHints(
  spec: Record<string, unknown>,
  images: readonly PodImage[],
  inputs: HintInputs,
): HintPlan {
  const { inventory } = inputs;
  if (inventory.nodes.length === 0) {
    // Without any node known (no snapshot, or the first list not done) nothing can be called cold.
    return none("no node inventory; hints and cold images not computed", []);
  }
  const cold = coldImages(inventory, images).map(formatReference);
  const nodeName = stringField(spec, "nodeName");
  if (nodeName !== undefined && nodeName !== "") {
    return none(`pod already names node ${nodeName}`, cold);
  }
  if (images.length === 0) {
    return none("no image to match against nodes", cold);
  }
  const pinned = pinnedNodes(spec);
  if (pinned !== undefined) {
    return none(`required node affinity pins the pod to ${pinned.join(", ")}`, cold);
  }
  return selectNodes(
    rankingFor(spec, images, inputs),
    inputs,
    cold,
    podRequests({ spec }).cpuMillis,
  );
}

/**
 * The nodes a pod is pinned to when every required node selector term names nodes by
 * metadata.name (DaemonSet pods carry one such term), else undefined: a preference among the
 * pinned nodes would steer nothing.
 */
function pinnedNodes(spec: Record<string, unknown>): string[] | undefined {
  const terms = readConstraints(spec).requiredTerms;
  if (terms === undefined || terms.length === 0) {
    return undefined;
  }
  const nodes: string[] = [];
  for (const term of terms) {
    const fields = arrayField(term, "matchFields");
    const requirement = fields[0];
    const values = arrayField(requirement, "values");
    if (
      fields.length !== 1 ||
      arrayField(term, "matchExpressions").length > 0 ||
      field(requirement, "key") !== "metadata.name" ||
      field(requirement, "operator") !== "In" ||
      values.length !== 1 ||
      typeof values[0] !== "string"
    ) {
      return undefined;
    }
    nodes.push(values[0]);
  }
  return nodes;
}

/** The feasible candidates of a pod, best first, and the counts the hint rules read. */
interface Ranking {
  readonly basis: "layers" | "images";
  /** Feasible nodes holding part of the pod's bytes, by held share, then name. */
  readonly ranked: readonly ScoredNode[];
  readonly feasibleCount: number;
  /** The feasible nodes, for the mean load the balance rule compares against. */
  readonly feasibleNodes: readonly NodeSummary[];
  /** Candidates holding at least WARM_SHARE of the pod's bytes. */
  readonly warmCount: number;
}

// Rankings are cached per layer index, keyed by the pod's images and constraints: pods of one
// ReplicaSet share both, so only the first pays for the scan, whose cost grows with the number of
// nodes holding the images. A ranking by layers reads only the layer index and the node
// summaries, so it stays valid while the inventory's nodesVersion does. A ranking by whole images
// reads every holder list and needs the full version. Nodes pull and drop images all the time,
// and clearing every ranking on each such change took 27 % of the CPU under 5 image changes a
// second (bench/soak).
const MAX_CACHED_RANKINGS = 512;
interface CachedRanking {
  readonly ranking: Ranking;
  readonly version: number;
  readonly nodesVersion: number;
}
const rankings = new WeakMap<
  Inventory,
  { nodeLayers: NodeLayerIndex | undefined; entries: Map<string, CachedRanking> }
>();

function rankingFor(
  spec: Record<string, unknown>,
  images: readonly PodImage[],
  inputs: HintInputs,
): Ranking {
  const { inventory, nodeLayers } = inputs;
  const constraints = readConstraints(spec);
  // Both names of each image are in the key: they decide which nodes hold it.
  const names = images.map((image) =>
    [image.original, image.mirrored]
      .map((name) => (name === undefined ? "" : formatReference(name)))
      .join(">"),
  );
  const key = `${names.join(" ")}\u0000${JSON.stringify(constraints)}`;
  let cache = rankings.get(inventory);
  if (cache === undefined || cache.nodeLayers !== nodeLayers) {
    cache = { nodeLayers, entries: new Map() };
    rankings.set(inventory, cache);
  }
  const cached = cache.entries.get(key);
  if (cached !== undefined && isCurrent(cached, inventory)) {
    return cached.ranking;
  }
  const feasible = feasibilityOf(constraints, images, inputs);
  const byLayers = scoreByLayers(images, feasible, inputs);
  // With layer data but no warm layer anywhere, whole images still tell something (an image
  // reported under a name whose manifest could not be read).
  const scored =
    byLayers !== undefined && byLayers.candidates.length > 0
      ? byLayers
      : scoreByImages(images, feasible, inputs);
  const ranked = [...scored.candidates].sort(
    (left, right) => heldShare(right) - heldShare(left) || (left.node < right.node ? -1 : 1),
  );
  const ranking: Ranking = {
    basis: scored.basis,
    ranked,
    feasibleCount: feasible.nodes().length,
    feasibleNodes: feasible.nodes(),
    warmCount: ranked.filter((candidate) => heldShare(candidate) >= WARM_SHARE).length,
  };
  if (cached === undefined && cache.entries.size >= MAX_CACHED_RANKINGS) {
    cache.entries.delete(cache.entries.keys().next().value ?? "");
  }
  cache.entries.set(key, {
    ranking,
    version: inventory.version,
    nodesVersion: inventory.nodesVersion,
  });
  return ranking;
}

function isCurrent(cached: CachedRanking, inventory: Inventory): boolean {
  return cached.ranking.basis === "layers"
    ? cached.nodesVersion === inventory.nodesVersion
    : cached.version === inventory.version;
}

interface Scored {
  readonly basis: "layers" | "images";
  readonly candidates: readonly ScoredNode[];
}

function selectNodes(
  ranking: Ranking,
  inputs: HintInputs,
  cold: readonly string[],
  podCpuMillis: number,
): HintPlan {
  const { config } = inputs;
  const { basis, ranked, feasibleCount } = ranking;
  const best = ranked[0];
  const warmShare = best === undefined ? 0 : heldShare(best);
  const finish = (reason: string): HintPlan => ({ ...none(reason, cold), basis, warmShare });
  if (best === undefined) {
    return finish(`no feasible node holds any of the pod's ${basis}`);
  }
  if (config.affinity.maxPreferredNodes === 0) {
    return finish("preferred node terms are disabled (affinity.maxPreferredNodes is 0)");
  }
  const last = ranked[ranked.length - 1];
  if (
    ranked.length > 1 &&
    ranked.length === feasibleCount &&
    last !== undefined &&
    heldShare(last) === warmShare
  ) {
    return finish("every feasible node holds the same share; a hint would not discriminate");
  }
  if (feasibleCount > 1 && ranking.warmCount > config.balance.maxHolderShare * feasibleCount) {
    return finish(
      `${ranking.warmCount} of ${feasibleCount} feasible nodes already hold the pod's ${basis}; ImageLocality covers it`,
    );
  }

  const { minHeldShare } = config.affinity;
  const worthHinting = leadingCount(
    ranked,
    ranked.length,
    (node) => heldShare(node) >= minHeldShare,
  );
  if (worthHinting === 0) {
    return finish(
      `no feasible node holds ${formatPercent(minHeldShare)} of the pod's bytes (affinity.minHeldShare); a hint would save too little`,
    );
  }
  const rotated = rotateTies(
    ranked,
    worthHinting,
    config.affinity.maxPreferredNodes,
    inputs.tieBreakSeed,
  );
  const roomy = withSpareCapacity(
    rotated,
    ranking.feasibleNodes,
    config.affinity.maxPreferredNodes,
    inputs,
    podCpuMillis,
  );
  if (roomy.kept.length === 0) {
    return finish(
      "every warm node is too busy: above the balance load limits, or too far above the emptiest nodes for the bytes it holds (balance.imbalancePerGB); no hint, to keep balance",
    );
  }
  const decision = choosePreferredNodes(
    roomy.kept,
    config.affinity.maxPreferredNodes,
    basis,
    ranked.length,
  );
  return { ...decision, basis, cold, warmShare };
}

/** Feasibility of nodes for this pod: its constraints plus the platforms its images support. */
interface Feasibility {
  (node: string): boolean;
  /** The feasible nodes; computed once, since it scans the cluster. */
  nodes(): readonly NodeSummary[];
}

function feasibilityOf(
  constraints: PodConstraints,
  images: readonly PodImage[],
  inputs: HintInputs,
): Feasibility {
  const { inventory, layers } = inputs;
  const supported = new Map<string, boolean>();
  const supports = (node: NodeSummary): boolean => {
    const platform = platformOf(node);
    if (layers === undefined || platform === undefined) {
      return true;
    }
    const key = platformKey(platform);
    let result = supported.get(key);
    if (result === undefined) {
      result = podLayersFor(images, platform, layers).status !== "unsupported";
      supported.set(key, result);
    }
    return result;
  };
  const check = (summary: NodeSummary): boolean =>
    isFeasible(summary, constraints) && supports(summary);
  let list: NodeSummary[] | undefined;
  const feasible = (name: string): boolean => {
    const summary = inventory.nodesByName.get(name);
    return summary !== undefined && check(summary);
  };
  feasible.nodes = (): readonly NodeSummary[] => (list ??= inventory.nodes.filter(check));
  return feasible;
}

/**
 * Scores by shared layers when every image's manifest is cached for every platform in play;
 * returns undefined (fall back to whole images) otherwise.
 */
function scoreByLayers(
  images: readonly PodImage[],
  feasible: Feasibility,
  inputs: HintInputs,
): Scored | undefined {
  const { layers, nodeLayers, inventory } = inputs;
  if (layers === undefined || nodeLayers === undefined || !hasLayerCoverage(nodeLayers)) {
    return undefined;
  }
  const candidates: ScoredNode[] = [];
  for (const platform of platformsOf(inventory)) {
    const podLayers = podLayersFor(images, platform, layers);
    if (podLayers.status === "incomplete") {
      return undefined;
    }
    if (podLayers.status === "unsupported") {
      continue;
    }
    const key = platformKey(platform);
    const onPlatform = (node: string): boolean => {
      const summary = inventory.nodesByName.get(node);
      return summary !== undefined && platformKeyOf(summary) === key && feasible(node);
    };
    for (const overlap of computeLayerOverlap(podLayers.layers, nodeLayers, onPlatform)) {
      candidates.push({
        node: overlap.node,
        heldBytes: overlap.heldBytes,
        totalBytes: podLayers.totalBytes,
      });
    }
  }
  return { basis: "layers", candidates };
}

function scoreByImages(
  images: readonly PodImage[],
  feasible: Feasibility,
  inputs: HintInputs,
): Scored {
  const overlap = computeOverlap(inputs.inventory, images);
  const candidates = overlap.overlaps
    .filter((entry) => feasible(entry.node))
    .map((entry) => ({
      node: entry.node,
      heldBytes: entry.heldBytes,
      totalBytes: overlap.totalBytes,
    }));
  return { basis: "images", candidates };
}

/**
 * Yields the first `length` ranked candidates. When the cut at maxNodes falls inside a run of
 * equally warm nodes, that run is rotated by the seed, so which of them are named varies between
 * pods instead of always being the first by name. Yielded lazily: the spare-capacity walk
 * usually stops after a few dozen of what may be thousands of warm nodes.
 */
function* rotateTies(
  ranked: readonly ScoredNode[],
  length: number,
  maxNodes: number,
  seed: string | undefined,
): Generator<ScoredNode> {
  const atCut = ranked[maxNodes - 1];
  let start = length;
  let end = length;
  let offset = 0;
  if (seed !== undefined && atCut !== undefined && length > maxNodes) {
    const share = heldShare(atCut);
    start = leadingCount(ranked, length, (node) => heldShare(node) > share);
    end = leadingCount(ranked, length, (node) => heldShare(node) >= share);
    offset = end > maxNodes ? hashString(seed) % (end - start) : 0;
  }
  for (let index = 0; index < start; index += 1) {
    yield ranked[index] as ScoredNode;
  }
  for (let index = 0; index < end - start; index += 1) {
    yield ranked[start + ((offset + index) % (end - start))] as ScoredNode;
  }
  for (let index = end; index < length; index += 1) {
    yield ranked[index] as ScoredNode;
  }
}

/** FNV-1a, 32 bits: a cheap, stable spread of seeds. */
function hashString(text: string): number {
  let hash = 0x811c9dc5;
  for (let index = 0; index < text.length; index += 1) {
    hash ^= text.charCodeAt(index);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash;
}

const platformCache = new WeakMap<Inventory, { version: number; platforms: Platform[] }>();

/** Distinct node platforms, computed once per version of the node summaries. */
function platformsOf(inventory: Inventory): Platform[] {
  const cached = platformCache.get(inventory);
  if (cached !== undefined && cached.version === inventory.nodesVersion) {
    return cached.platforms;
  }
  const byKey = new Map<string, Platform>();
  for (const node of inventory.nodes) {
    const platform = platformOf(node);
    if (platform !== undefined) {
      byKey.set(platformKey(platform), platform);
    }
  }
  const platforms = [...byKey.values()];
  platformCache.set(inventory, { version: inventory.nodesVersion, platforms });
  return platforms;
}

function platformKey(platform: Platform): string {
  return `${platform.os}/${platform.architecture}`;
}

function platformKeyOf(node: NodeSummary): string | undefined {
  const platform = platformOf(node);
  return platform === undefined ? undefined : platformKey(platform);
}

function none(reason: string, cold: readonly string[]): HintPlan {
  return { preferences: [], reason, basis: "none", cold };
}

/**
 * Counts the leading candidates among the first `length` that pass `test`, which must hold for
 * a prefix of them (ranked is sorted by held share, highest first), by binary search.
 */
function leadingCount(
  ranked: readonly ScoredNode[],
  length: number,
  test: (node: ScoredNode) => boolean,
): number {
  let low = 0;
  let high = length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (test(ranked[middle] as ScoredNode)) {
      low = middle + 1;
    } else {
      high = middle;
    }
  }
  return low;
}

function formatPercent(share: number): string {
  return `${Math.round(share * 100)} %`;
}
