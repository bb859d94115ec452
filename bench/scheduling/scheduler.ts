// A model of kube-scheduler's default profile: the filters that matter here, the score plugins
// with their default weights, and node sampling. Formulas follow the Kubernetes sources under
// pkg/scheduler (schedule_one.go and framework/plugins), cited at each plugin.
//
// Left out: InterPodAffinity and TaintToleration scores (constant here: no pod affinity terms,
// no PreferNoSchedule taints), VolumeBinding, preemption, and the scheduler's parallelism.
import type { SimNode } from "./nodes.ts";
import { MIB } from "./params.ts";

/** A pod as the scheduler reads it. */
export interface SchedulingPod {
  readonly app: string;
  readonly images: readonly string[];
  readonly cpuMillis: number;
  readonly memoryBytes: number;
  readonly nodeSelector: Readonly<Record<string, string>>;
  readonly toleratesGpu: boolean;
  /** Preferred node terms of our shape: node name -> weight (summed when named twice). */
  readonly preferred: ReadonlyMap<string, number>;
}

const MAX_NODE_SCORE = 100;
// numFeasibleNodesToFind in schedule_one.go: below 100 nodes every node is scored; above, an
// adaptive 50 - nodes/125 percent, at least 5 % and at least 100 nodes.
const MIN_FEASIBLE_NODES = 100;
const MIN_FEASIBLE_PERCENT = 5;
// imagelocality/image_locality.go: image scores are clamped to 23 MiB..1000 MiB per container.
const IMAGE_MIN = 23 * MIB;
const IMAGE_MAX_PER_CONTAINER = 1000 * MIB;
// Default spreading constraints of PodTopologySpread (ScheduleAnyway): hostname maxSkew 3,
// zone maxSkew 5 (podtopologyspread plugin defaults, "systemDefaulted").
const SPREAD = [
  { key: "hostname", maxSkew: 3 },
  { key: "zone", maxSkew: 5 },
] as const;

export function numFeasibleNodesToFind(allNodes: number): number {
  if (allNodes < MIN_FEASIBLE_NODES) {
    return allNodes;
  }
  const percent = Math.max(MIN_FEASIBLE_PERCENT, 50 - Math.trunc(allNodes / 125));
  return Math.max(MIN_FEASIBLE_NODES, Math.trunc((allNodes * percent) / 100));
}

export class Scheduler {
  #nextStart = 0;
  /** Pods per app per zone, over all nodes. */
  readonly #zonePods = new Map<string, Map<string, number>>();
  /** Nodes whose last synced status lists each image name (ImageStateSummary.NumNodes). */
  readonly imageNodes = new Map<string, number>();

  constructor(
    readonly nodes: SimNode[],
    private readonly random: () => number,
  ) {}

  /** Picks a node for the pod, or undefined when no node passes the filters. */
  schedule(pod: SchedulingPod): SimNode | undefined {
    const feasible = this.#findFeasible(pod);
    if (feasible.length === 0) {
      return undefined;
    }
    const totals = new Float64Array(feasible.length);
    addScores(
      totals,
      feasible.map((node) => leastAllocated(node, pod)),
      1,
    );
    addScores(
      totals,
      feasible.map((node) => balancedAllocation(node, pod)),
      1,
    );
    addScores(
      totals,
      feasible.map((node) => this.#imageLocality(node, pod)),
      1,
    );
    addScores(totals, normaliseMax(feasible.map((node) => pod.preferred.get(node.name) ?? 0)), 2);
    addScores(totals, this.#spread(feasible, pod), 2);
    return feasible[this.#selectHost(totals)];
  }

  /** Records a bound pod (or, with -1, a deleted one) in the zone counts. */
  countPod(node: SimNode, app: string, delta: 1 | -1): void {
    const zones = this.#zonePods.get(app) ?? new Map<string, number>();
    zones.set(node.zone, (zones.get(node.zone) ?? 0) + delta);
    this.#zonePods.set(app, zones);
  }

  /** Filters nodes from a rotating start index until enough feasible ones are found. */
  #findFeasible(pod: SchedulingPod): SimNode[] {
    const count = this.nodes.length;
    const wanted = numFeasibleNodesToFind(count);
    const feasible: SimNode[] = [];
    let checked = 0;
    while (checked < count && feasible.length < wanted) {
      const node = this.nodes[(this.#nextStart + checked) % count]!;
      checked += 1;
      if (passesFilters(node, pod)) {
        feasible.push(node);
      }
    }
    this.#nextStart = count === 0 ? 0 : (this.#nextStart + checked) % count;
    return feasible;
  }

  /**
   * ImageLocality: per container, the image size scaled by the share of nodes holding it,
   * summed and clamped, then mapped to 0-100 (calculatePriority and scaledImageScore).
   */
  #imageLocality(node: SimNode, pod: SchedulingPod): number {
    const total = this.nodes.length;
    let sum = 0;
    for (const image of pod.images) {
      const size = node.reportedSizes.get(image);
      if (size !== undefined) {
        sum += Math.trunc(size * ((this.imageNodes.get(image) ?? 0) / total));
      }
    }
    const max = IMAGE_MAX_PER_CONTAINER * pod.images.length;
    const clamped = Math.min(max, Math.max(IMAGE_MIN, sum));
    return Math.trunc((MAX_NODE_SCORE * (clamped - IMAGE_MIN)) / (max - IMAGE_MIN));
  }

  /**
   * PodTopologySpread scoring (podtopologyspread/scoring.go): per constraint, matching pods in
   * the node's domain times log(domains + 2) plus maxSkew - 1; normalised so fewer is better.
   */
  #spread(feasible: readonly SimNode[], pod: SchedulingPod): number[] {
    const zones = this.#zonePods.get(pod.app);
    const zoneCount = new Set(feasible.map((node) => node.zone)).size;
    const weights = {
      hostname: Math.log(feasible.length + 2),
      zone: Math.log(zoneCount + 2),
    };
    const raw = feasible.map((node) => {
      let score = 0;
      for (const constraint of SPREAD) {
        const count =
          constraint.key === "hostname"
            ? (node.appPods.get(pod.app) ?? 0)
            : (zones?.get(node.zone) ?? 0);
        score += count * weights[constraint.key] + (constraint.maxSkew - 1);
      }
      return Math.round(score);
    });
    const max = Math.max(...raw);
    const min = Math.min(...raw);
    return raw.map((score) =>
      max === 0 ? MAX_NODE_SCORE : Math.trunc((MAX_NODE_SCORE * (max + min - score)) / max),
    );
  }

  /** The highest total wins; ties are broken uniformly at random, as selectHost does. */
  #selectHost(totals: Float64Array): number {
    let best = 0;
    let ties = 1;
    for (let index = 1; index < totals.length; index += 1) {
      if (totals[index]! > totals[best]!) {
        best = index;
        ties = 1;
      } else if (totals[index] === totals[best]) {
        ties += 1;
        if (this.random() * ties < 1) {
          best = index;
        }
      }
    }
    return best;
  }
}

/** NodeResourcesFit, NodeUnschedulable, TaintToleration and NodeAffinity (nodeSelector) filters. */
function passesFilters(node: SimNode, pod: SchedulingPod): boolean {
  if (node.pods + 1 > node.maxPods) {
    return false;
  }
  if (node.requestedCpu + pod.cpuMillis > node.cpuMillis) {
    return false;
  }
  if (node.requestedMemory + pod.memoryBytes > node.memoryBytes) {
    return false;
  }
  if (node.gpu && !pod.toleratesGpu) {
    return false;
  }
  const labels = node.labels();
  return Object.entries(pod.nodeSelector).every(([key, value]) => labels[key] === value);
}

/** NodeResourcesFit with LeastAllocated: free share after placing the pod, CPU and memory weight 1. */
function leastAllocated(node: SimNode, pod: SchedulingPod): number {
  const cpu = freeScore(node.requestedCpu + pod.cpuMillis, node.cpuMillis);
  const memory = freeScore(node.requestedMemory + pod.memoryBytes, node.memoryBytes);
  return Math.trunc((cpu + memory) / 2);
}

function freeScore(requested: number, capacity: number): number {
  return requested > capacity
    ? 0
    : Math.trunc(((capacity - requested) * MAX_NODE_SCORE) / capacity);
}

/**
 * NodeResourcesBalancedAllocation: 100 times 1 minus the standard deviation of the CPU and
 * memory shares after placing the pod (for two resources, half their difference).
 */
function balancedAllocation(node: SimNode, pod: SchedulingPod): number {
  const cpu = Math.min(1, (node.requestedCpu + pod.cpuMillis) / node.cpuMillis);
  const memory = Math.min(1, (node.requestedMemory + pod.memoryBytes) / node.memoryBytes);
  return Math.trunc((1 - Math.abs(cpu - memory) / 2) * MAX_NODE_SCORE);
}

/** DefaultNormalizeScore: scales so the highest score is 100; all zero stays zero. */
function normaliseMax(scores: number[]): number[] {
  const max = Math.max(...scores);
  return max === 0 ? scores : scores.map((score) => Math.trunc((score * MAX_NODE_SCORE) / max));
}

function addScores(totals: Float64Array, scores: readonly number[], weight: number): void {
  scores.forEach((score, index) => {
    totals[index] = totals[index]! + score * weight;
  });
}
